import AtomicFiles
import CTorch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension SafeTensors {
    /// A loaded file: tensors by name plus the free-form `__metadata__` strings.
    public struct File {
        public var tensors: [String: Tensor]
        public var metadata: [String: String]
        /// Names in the order of their bytes in the file.
        public var order: [String]
    }

    /// Reads a file by memory-mapping it: tensors share the mapping (copy-on-write) and
    /// the mapping lives as long as any of them.
    public static func read(_ path: String) throws -> File {
        let mapping = try Mapping(path: path)
        let header = try Self.header(of: UnsafeRawBufferPointer(start: mapping.base, count: mapping.size), path: path)
        var tensors: [String: Tensor] = [:]
        for entry in header.entries {
            let pointer = mapping.base + header.dataStart + entry.begin
            if Int(bitPattern: pointer) % entry.dtype.byteSize == 0 && entry.end > entry.begin {
                tensors[entry.name] = try Tensor.wrapping(pointer, dtype: entry.dtype, shape: entry.shape) {
                    withExtendedLifetime(mapping) {}
                }
            } else {
                // Misaligned (allowed by the format) or empty: copy rather than hand LibTorch an unaligned pointer.
                let bytes = Array(UnsafeRawBufferPointer(start: pointer, count: entry.end - entry.begin))
                tensors[entry.name] = try Tensor.fromBytes(bytes, dtype: entry.dtype, shape: entry.shape)
            }
        }
        return File(tensors: tensors, metadata: header.metadata, order: header.entries.map(\.name))
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
            guard let code = codes[t.dtype] else {
                throw TorchError(.format, "tensor '\(name)': \(t.dtype) has no safetensors code")
            }
            let bytes = t.count * t.dtype.byteSize
            header[name] =
                ["dtype": code, "shape": t.shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
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
        guard bytes.count == SafeTensors.byteCount(shape, dtype) else {
            throw TorchError(.format, "\(bytes.count) bytes do not hold \(shape) \(dtype)")
        }
        let sizes = shape.map(Int64.init)
        let handle = bytes.withUnsafeBytes { raw in
            sizes.withUnsafeBufferPointer {
                ctorch_tensor_from_data(raw.baseAddress, dtype.rawValue, $0.baseAddress, Int64(shape.count), "cpu")
            }
        }
        guard let handle else { throw TorchError.last("creating a \(shape) \(dtype) tensor") }
        return Tensor(owning: handle)
    }
}
