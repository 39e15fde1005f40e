import CTorch
import Diagnostics

/// A failure reported by LibTorch (a bad shape, a wrong dtype, a missing operator, …),
/// carried across the C bridge as text and thrown here — never a crash.
public struct TorchError: CodedError, Equatable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }
        /// LibTorch refused the operation (shapes, dtypes, arguments).
        public static let operation = Code("operation")
        /// An operator name or overload that this LibTorch does not have.
        public static let unknownOperator = Code("unknown-operator")
        /// Reading or writing a file (safetensors) failed.
        public static let io = Code("io")
        /// A file's contents are not what the format says.
        public static let format = Code("format")
    }

    public var code: Code
    public var message: String
    /// LibTorch's own message.
    public var cause: String?

    public init(_ code: Code, _ message: String, cause: String? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    /// The bridge's message for the last failure on this thread.
    static func last(_ message: String, code: Code = .operation) -> TorchError {
        TorchError(code, message, cause: String(cString: ctorch_last_error()))
    }
}
