import AtomicFiles
import CTorch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The safetensors format (8-byte little-endian header length, a JSON header naming each
/// tensor's dtype, shape and byte range, then the raw little-endian bytes), so weights and
/// token shards written here load in Python's `safetensors`/NumPy and the reverse.
public enum SafeTensors {
    /// A loaded file: tensors by name plus the free-form `__metadata__` strings.
    public struct File {
        public var tensors: [String: Tensor]
        public var metadata: [String: String]
        /// Names in the order of their bytes in the file.
        public var order: [String]
    }

    static let codes: [DType: String] = [
        .float32: "F32", .float16: "F16", .bfloat16: "BF16", .float64: "F64",
        .int64: "I64", .int32: "I32", .int16: "I16", .int8: "I8", .uint8: "U8", .bool: "BOOL",
    ]

    /// Reads a file by memory-mapping it: tensors share the mapping (copy-on-write) and
    /// the mapping lives as long as any of them.
    public static func read(_ path: String) throws -> File {
        let mapping = try Mapping(path: path)
        let size = mapping.size
        guard size >= 8 else { throw TorchError(.format, "\(path): \(size) bytes is too short for a safetensors file") }
        let base = mapping.base
        var headerLength: UInt64 = 0
        memcpy(&headerLength, base, 8)
        headerLength = UInt64(littleEndian: headerLength)
        guard headerLength <= 100_000_000, 8 + Int(headerLength) <= size else {
            throw TorchError(.format, "\(path): header length \(headerLength) does not fit a \(size)-byte file")
        }
        let headerData = Data(bytes: base + 8, count: Int(headerLength))
        guard let header = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any] else {
            throw TorchError(.format, "\(path): the header is not a JSON object")
        }
        let dataStart = 8 + Int(headerLength)
        let dataSize = size - dataStart
        var tensors: [String: Tensor] = [:]
        var metadata: [String: String] = [:]
        var ranges: [(Int, Int, String)] = []
        for (name, value) in header {
            if name == "__metadata__" {
                guard let entries = value as? [String: Any] else { throw TorchError(.format, "\(path): __metadata__ is not an object") }
                for (k, v) in entries {
                    guard let text = v as? String else { throw TorchError(.format, "\(path): metadata '\(k)' is not a string") }
                    metadata[k] = text
                }
                continue
            }
            guard let entry = value as? [String: Any], let code = entry["dtype"] as? String,
                  let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2 else {
                throw TorchError(.format, "\(path): tensor '\(name)' needs dtype, shape and data_offsets")
            }
            guard let dtype = codes.first(where: { $0.value == code })?.key else {
                throw TorchError(.format, "\(path): tensor '\(name)' has unsupported dtype \(code)")
            }
            guard shape.allSatisfy({ $0 >= 0 }) else { throw TorchError(.format, "\(path): tensor '\(name)' has a negative size") }
            let (begin, end) = (offsets[0], offsets[1])
            let count = shape.reduce(1, *)
            guard begin >= 0, begin <= end, end <= dataSize, end - begin == count * dtype.byteSize else {
                throw TorchError(.format, "\(path): tensor '\(name)' byte range \(begin)..<\(end) does not hold \(shape) \(dtype) "
                                 + "inside \(dataSize) data bytes")
            }
            ranges.append((begin, end, name))
            let pointer = base + dataStart + begin
            if Int(bitPattern: pointer) % max(dtype.byteSize, 1) == 0 && count > 0 {
                tensors[name] = try Tensor.wrapping(pointer, dtype: dtype, shape: shape) { withExtendedLifetime(mapping) {} }
            } else {
                // Misaligned (allowed by the format) or empty: copy rather than hand LibTorch an unaligned pointer.
                let bytes = Array(UnsafeRawBufferPointer(start: pointer, count: end - begin))
                tensors[name] = try Tensor.fromBytes(bytes, dtype: dtype, shape: shape)
            }
        }
        ranges.sort { $0.0 < $1.0 }
        for (a, b) in zip(ranges, ranges.dropFirst()) where b.0 < a.1 {
            throw TorchError(.format, "\(path): tensors '\(a.2)' and '\(b.2)' overlap")
        }
        return File(tensors: tensors, metadata: metadata, order: ranges.map(\.2))
    }

    /// Writes tensors and metadata atomically. Tensors are laid out largest element size
    /// first, then by name, after a header padded to 8 bytes, so every tensor is aligned.
    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to path: String) throws {
        let names = tensors.keys.sorted { a, b in
            let (sa, sb) = (tensors[a]!.dtype.byteSize, tensors[b]!.dtype.byteSize)
            return sa != sb ? sa > sb : a < b
        }
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for name in names {
            let t = tensors[name]!
            guard let code = codes[t.dtype] else { throw TorchError(.format, "tensor '\(name)': \(t.dtype) has no safetensors code") }
            let bytes = t.count * t.dtype.byteSize
            header[name] = ["dtype": code, "shape": t.shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var length = UInt64(json.count).littleEndian
        do {
            let file = try AtomicFile(path: path)
            try withUnsafeBytes(of: &length) { try file.write($0) }
            try json.withUnsafeBytes { try file.write($0) }
            for name in names {
                let t = tensors[name]!
                var bytes = [UInt8](repeating: 0, count: t.count * t.dtype.byteSize)
                try bytes.withUnsafeMutableBytes { try t.copyBytes(into: $0) }
                try file.write(bytes)
            }
            try file.commit()
        } catch let error as AtomicFileError {
            throw TorchError(.io, error.message, cause: error.errno.map { String(cString: strerror($0)) })
        }
    }

    /// A read-only file mapped copy-on-write (writes to loaded tensors stay private).
    final class Mapping: @unchecked Sendable {
        let base: UnsafeMutableRawPointer
        let size: Int

        init(path: String) throws {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw TorchError(.io, "\(path): cannot open: \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            var info = stat()
            guard fstat(fd, &info) == 0 else { throw TorchError(.io, "\(path): cannot stat") }
            size = Int(info.st_size)
            guard size > 0 else { throw TorchError(.format, "\(path): the file is empty") }
            let mapped = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0)
            guard let mapped, mapped != MAP_FAILED else {
                throw TorchError(.io, "\(path): cannot map: \(String(cString: strerror(errno)))")
            }
            base = mapped
        }

        deinit { munmap(base, size) }
    }
}

extension Tensor {
    /// A tensor holding a copy of raw little-endian bytes.
    public static func fromBytes(_ bytes: [UInt8], dtype: DType, shape: [Int]) throws -> Tensor {
        guard bytes.count == shape.reduce(1, *) * dtype.byteSize else {
            throw TorchError(.format, "\(bytes.count) bytes do not hold \(shape) \(dtype)")
        }
        let sizes = shape.map(Int64.init)
        let handle = bytes.withUnsafeBytes { raw in
            sizes.withUnsafeBufferPointer { ctorch_tensor_from_data(raw.baseAddress, dtype.rawValue, $0.baseAddress, Int64(shape.count), "cpu") }
        }
        guard let handle else { throw TorchError.last("creating a \(shape) \(dtype) tensor") }
        return Tensor(owning: handle)
    }
}
