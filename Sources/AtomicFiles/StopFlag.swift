import Foundation

/// A stop request set from one thread (a signal handler, a shutdown) and polled from
/// another between units of work, so a stop always lands on a boundary.
public final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false

    public init() {}

    /// Sets the flag; returns whether it was set already (a second request).
    @discardableResult
    public func set() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        let wasSet = value
        value = true
        return wasSet
    }

    public var isSet: Bool {
        lock.lock()
        defer { lock.unlock() }
        return value
    }
}
