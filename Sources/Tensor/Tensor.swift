import CTorch

/// An n-dimensional array on a device, backed by a LibTorch tensor that this object
/// owns (freed in `deinit`). Reference semantics, like `at::Tensor`: operations return
/// new tensors; the few in-place ones end in an underscore.
public final class Tensor: @unchecked Sendable, CustomStringConvertible {
    let handle: OpaquePointer

    init(owning handle: OpaquePointer) { self.handle = handle }

    deinit { ctorch_tensor_free(handle) }

    // MARK: Creating

    /// A tensor holding a copy of `values`, laid out row-major in `shape`.
    public convenience init<T: TensorScalar>(_ values: [T], shape: [Int], device: Device = .cpu) throws {
        guard shape.reduce(1, *) == values.count else {
            throw TorchError(.operation, "\(values.count) values do not fill shape \(shape)")
        }
        let sizes = shape.map(Int64.init)
        let handle = values.withUnsafeBytes { bytes in
            sizes.withUnsafeBufferPointer {
                ctorch_tensor_from_data(
                    bytes.baseAddress, T.dtype.rawValue, $0.baseAddress, Int64(shape.count), device.name)
            }
        }
        guard let handle else { throw TorchError.last("creating a \(shape) tensor") }
        self.init(owning: handle)
    }

    /// A 1-D tensor of `values`.
    public convenience init<T: TensorScalar>(_ values: [T]) throws {
        try self.init(values, shape: [values.count])
    }

    /// A 0-D tensor.
    public convenience init(scalar: Float) throws { try self.init([scalar], shape: []) }

    /// Wraps raw bytes of `dtype` in `shape` without copying; `release` runs when LibTorch is done with them.
    static func wrapping(
        _ pointer: UnsafeMutableRawPointer, dtype: DType, shape: [Int], release: @escaping @Sendable () -> Void
    ) throws -> Tensor {
        final class Box {
            let release: @Sendable () -> Void
            init(_ r: @escaping @Sendable () -> Void) { release = r }
        }
        let context = Unmanaged.passRetained(Box(release)).toOpaque()
        let sizes = shape.map(Int64.init)
        let handle = sizes.withUnsafeBufferPointer {
            ctorch_tensor_from_blob(pointer, dtype.rawValue, $0.baseAddress, Int64(shape.count), context) { context in
                let box = Unmanaged<AnyObject>.fromOpaque(context!).takeRetainedValue() as! Box
                box.release()
            }
        }
        guard let handle else {
            Unmanaged<AnyObject>.fromOpaque(context).release()
            throw TorchError.last("wrapping memory as a \(shape) tensor")
        }
        return Tensor(owning: handle)
    }

    // MARK: Describing

    public var shape: [Int] {
        var sizes = [Int64](repeating: 0, count: 16)
        let n = Int(ctorch_tensor_shape(handle, &sizes, 16))
        if n > 16 {
            sizes = [Int64](repeating: 0, count: n)
            _ = ctorch_tensor_shape(handle, &sizes, Int64(n))
        }
        return sizes.prefix(n).map(Int.init)
    }

    public var rank: Int { Int(ctorch_tensor_dim(handle)) }
    public var count: Int { Int(ctorch_tensor_numel(handle)) }
    public var dtype: DType { DType(rawValue: ctorch_tensor_dtype(handle)) ?? .float32 }
    public var device: Device {
        guard let text = ctorch_tensor_device(handle) else { return .cpu }
        defer { ctorch_free_string(text) }
        return Device(String(cString: text))
    }

    public var description: String { "Tensor(\(dtype), \(shape), \(device))" }

    /// True for CPU tensors (cheaper than comparing `device`).
    var isOnCPU: Bool { ctorch_tensor_is_cpu(handle) }

    // MARK: Reading

    /// The elements as a flat array (converted to `T`'s dtype first if needed).
    public func scalars<T: TensorScalar>(as type: T.Type = T.self) throws -> [T] {
        let source = dtype == T.dtype ? self : try to(T.dtype)
        var out = [T](repeating: T(), count: source.count)
        let rc = out.withUnsafeMutableBytes { ctorch_tensor_copy_out(source.handle, $0.baseAddress, Int64($0.count)) }
        guard rc == 0 else { throw TorchError.last("reading elements") }
        return out
    }

    /// Copies the raw bytes (contiguous, CPU) into `buffer`, which must be exactly `count × dtype.byteSize`.
    public func copyBytes(into buffer: UnsafeMutableRawBufferPointer) throws {
        guard ctorch_tensor_copy_out(handle, buffer.baseAddress, Int64(buffer.count)) == 0 else {
            throw TorchError.last("reading bytes")
        }
    }

    /// The single element of a one-element tensor.
    public func item() throws -> Double {
        var value = 0.0
        guard ctorch_tensor_item(handle, &value) == 0 else { throw TorchError.last("item()") }
        return value
    }

    // MARK: Autograd

    /// Whether operations on this tensor are recorded for `backward()`.
    public var requiresGrad: Bool {
        get { ctorch_tensor_requires_grad(handle) }
        set { _ = ctorch_tensor_set_requires_grad(handle, newValue) }
    }

    /// Marks this tensor as a leaf that collects gradients; returns it.
    @discardableResult
    public func requiringGrad(_ flag: Bool = true) -> Tensor {
        requiresGrad = flag
        return self
    }

    /// Backpropagates from this tensor (a scalar, unless `gradient` is given).
    public func backward(_ gradient: Tensor? = nil, retainGraph: Bool = false) throws {
        guard ctorch_backward(handle, gradient?.handle, retainGraph) == 0 else { throw TorchError.last("backward") }
    }

    /// The gradient accumulated by `backward()`, or nil.
    public var grad: Tensor? {
        ctorch_tensor_grad(handle).map { Tensor(owning: $0) }
    }

    /// Forgets the accumulated gradient.
    public func zeroGrad() { _ = ctorch_tensor_zero_grad(handle) }
}

/// Where a tensor lives. CPU here; a CUDA build of LibTorch gives "cuda:0" and so on.
public struct Device: Hashable, Sendable, CustomStringConvertible {
    public let name: String
    public init(_ name: String) { self.name = name }
    public static let cpu = Device("cpu")
    public static func cuda(_ index: Int = 0) -> Device { Device("cuda:\(index)") }
    public var description: String { name }
}
