import CTorch
import Synchronization

/// An ATen operator reached through LibTorch's dispatcher by schema name, so every
/// operator LibTorch has (with autograd) is callable without a C wrapper of its own.
/// Arguments are checked against the operator's schema; omitted trailing arguments
/// take the schema's defaults; keyword arguments are matched by name.
struct Operator: @unchecked Sendable {
    let name: String
    let overload: String
    private let handle: OpaquePointer?
    private let lookupError: String?

    init(_ name: String, _ overload: String = "") {
        self.name = name
        self.overload = overload
        let found = ctorch_op_find(name, overload)
        handle = found
        lookupError = found == nil ? String(cString: ctorch_last_error()) : nil
    }

    /// Whether this LibTorch has the operator.
    var isAvailable: Bool { handle != nil }

    /// The operator's schema, e.g. "aten::add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor".
    var schema: String? {
        guard let handle, let text = ctorch_op_schema(handle) else { return nil }
        defer { ctorch_free_string(text) }
        return String(cString: text)
    }

    /// One argument (positional when `name` is nil).
    enum Value {
        case tensor(Tensor), int(Int), double(Double), bool(Bool), none, string(String)
        case ints([Int]), doubles([Double]), tensors([Tensor?]), generator(Generator)
    }

    func call(_ positional: [Value], _ keywords: KeyValuePairs<String, Value> = [:]) throws -> [Output] {
        let results = try invoke(positional, keywords)
        defer { ctorch_results_free(results) }
        return (0..<ctorch_results_count(results)).map { i in
            switch ctorch_results_kind(results, i) {
            case 1: return .tensor(Tensor(owning: ctorch_results_tensor(results, i)!))
            case 2: return .int(Int(ctorch_results_int(results, i)))
            case 3: return .double(ctorch_results_double(results, i))
            case 5:
                return .tensors(
                    (0..<ctorch_results_list_count(results, i)).map {
                        Tensor(owning: ctorch_results_list_tensor(results, i, $0)!)
                    })
            default: return .other
            }
        }
    }

    /// The single tensor an operator returns (the hot path: no result array is built).
    func tensor(_ positional: [Value], _ keywords: KeyValuePairs<String, Value> = [:]) throws -> Tensor {
        let results = try invoke(positional, keywords)
        defer { ctorch_results_free(results) }
        guard ctorch_results_count(results) > 0, ctorch_results_kind(results, 0) == 1 else {
            throw TorchError(.operation, "\(name) returned no tensor")
        }
        return Tensor(owning: ctorch_results_tensor(results, 0)!)
    }

    private func invoke(_ positional: [Value], _ keywords: KeyValuePairs<String, Value>) throws -> OpaquePointer {
        guard let handle else {
            throw TorchError(.unknownOperator, "\(name).\(overload) is not in this LibTorch", cause: lookupError)
        }
        let arguments = ctorch_args_new()!
        defer { ctorch_args_free(arguments) }
        for value in positional { Self.push(value, name: nil, to: arguments) }
        for (key, value) in keywords { key.withCString { Self.push(value, name: $0, to: arguments) } }
        guard let results = ctorch_op_call(handle, arguments) else {
            throw TorchError.last(overload.isEmpty ? name : "\(name).\(overload)")
        }
        return results
    }

    enum Output {
        case tensor(Tensor), int(Int), double(Double), tensors([Tensor]), other
    }

    private static func push(_ value: Value, name key: UnsafePointer<CChar>?, to arguments: OpaquePointer) {
        switch value {
        case .tensor(let t): ctorch_args_tensor(arguments, key, t.handle)
        case .int(let v): ctorch_args_int(arguments, key, Int64(v))
        case .double(let v): ctorch_args_double(arguments, key, v)
        case .bool(let v): ctorch_args_bool(arguments, key, v)
        case .none: ctorch_args_none(arguments, key)
        case .string(let s): ctorch_args_string(arguments, key, s)
        case .ints(let v):
            v.map(Int64.init).withUnsafeBufferPointer {
                ctorch_args_ints(arguments, key, $0.baseAddress, Int64($0.count))
            }
        case .doubles(let v):
            v.withUnsafeBufferPointer { ctorch_args_doubles(arguments, key, $0.baseAddress, Int64($0.count)) }
        case .tensors(let list):
            let handles: [OpaquePointer?] = list.map { $0?.handle }
            handles.withUnsafeBufferPointer { ctorch_args_tensors(arguments, key, $0.baseAddress, Int64($0.count)) }
            withExtendedLifetime(list) {}
        case .generator(let g): ctorch_args_generator(arguments, key, g.handle)
        }
    }
}
