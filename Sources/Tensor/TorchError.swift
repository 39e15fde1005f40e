import CTorch
import Diagnostics

/// A failure reported by LibTorch (a bad shape, a wrong dtype, a missing operator, …),
/// carried across the C bridge as text and thrown here — never a crash. The cause is
/// LibTorch's own message.
public typealias TorchError = ModuleError<TorchErrorCode>

public struct TorchErrorCode: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }
    /// LibTorch refused the operation (shapes, dtypes, arguments).
    public static let operation = Self("operation")
    /// An operator name or overload that this LibTorch does not have.
    public static let unknownOperator = Self("unknown-operator")
    /// Reading or writing a file (safetensors) failed.
    public static let io = Self("io")
    /// A file's contents are not what the format says.
    public static let format = Self("format")
}

extension ModuleError where Code == TorchErrorCode {
    /// The bridge's message for the last failure on this thread.
    static func last(_ message: String, code: TorchErrorCode = .operation) -> TorchError {
        TorchError(code, message, cause: String(cString: ctorch_last_error()))
    }
}
