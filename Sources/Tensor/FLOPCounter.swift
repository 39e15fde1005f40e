import Foundation

/// Counts the floating-point operations of convolutions and linear layers run inside
/// `measure`, for throughput figures (GFLOP/s). Off unless measuring; the count is
/// 2 × multiply-adds, the usual convention.
public enum FLOPCounter {
    private final class State: @unchecked Sendable {
        let lock = NSLock()
        var active = 0
        var total: Double = 0
    }
    private static let state = State()

    /// Runs `body` and returns its result with the FLOPs counted meanwhile.
    public static func measure<R>(_ body: () throws -> R) rethrows -> (result: R, flops: Double) {
        state.lock.lock()
        state.active += 1
        state.total = 0
        state.lock.unlock()
        defer {
            state.lock.lock()
            state.active -= 1
            state.lock.unlock()
        }
        let result = try body()
        state.lock.lock()
        let total = state.total
        state.lock.unlock()
        return (result, total)
    }

    /// Adds FLOPs done outside the counted layers (e.g. attention's two matmuls); free when not measuring.
    public static func add(_ flops: Double) {
        state.lock.lock()
        defer { state.lock.unlock() }
        guard state.active > 0 else { return }
        state.total += flops
    }
}
