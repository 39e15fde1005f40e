/// The one error shape of the project: a stable `code` a program can switch on (the daemon
/// decides "retry later" or "reject for good" on it), a `message` that says to a person what
/// happened and what to do, and the `cause` underneath (FFmpeg's, SQLite's or LibTorch's own
/// words) so nothing is lost when we summarise.
public protocol CodedError: Error, Sendable, CustomStringConvertible {
    associatedtype Code: Hashable & Sendable
    var code: Code { get }
    var message: String { get }
    var cause: String? { get }
}

extension CodedError {
    /// "code: message: cause".
    public var description: String { cause.map { "\(code): \(message): \($0)" } ?? "\(code): \(message)" }
}

/// A module's error when its code, message and cause say everything: each module names its
/// own codes (`typealias IngestError = ModuleError<IngestErrorCode>`) instead of copying
/// the struct.
public struct ModuleError<Code: Hashable & Sendable>: CodedError, Equatable {
    public var code: Code
    public var message: String
    public var cause: String?

    public init(_ code: Code, _ message: String, cause: String? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }
}
