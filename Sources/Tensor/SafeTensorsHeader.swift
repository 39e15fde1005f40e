import Foundation

/// The safetensors format (8-byte little-endian header length, a JSON header naming each
/// tensor's dtype, shape and byte range, then the raw little-endian bytes), so weights and
/// token shards written here load in Python's `safetensors`/NumPy and the reverse.
///
/// This file is the part that trusts nothing: it turns a file's bytes into a checked
/// header without LibTorch, so it can be fuzzed on its own (`Fuzz/SafeTensorsFuzz.swift`).
public enum SafeTensors {
    static let codes: [DType: String] = [
        .float32: "F32", .float16: "F16", .bfloat16: "BF16", .float64: "F64",
        .int64: "I64", .int32: "I32", .int16: "I16", .int8: "I8", .uint8: "U8", .bool: "BOOL",
    ]

    /// Headers past this are refused before any allocation (Python's reader caps them too).
    static let maxHeaderLength = 100_000_000

    /// One tensor of a checked header: its bytes lie inside the data section and hold
    /// exactly `shape` × `dtype`.
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var dtype: DType
        public var shape: [Int]
        /// Bytes `begin..<end` of the data section.
        public var begin: Int
        public var end: Int
    }

    /// A header whose every number has been checked against the file.
    public struct Header: Sendable, Equatable {
        /// Tensors in the order of their bytes in the file.
        public var entries: [Entry]
        public var metadata: [String: String]
        /// Offset of the data section in the file: 8 + the header length.
        public var dataStart: Int
    }

    /// Elements in `shape`, or nil if a dimension is negative or the product overflows.
    /// Zero dimensions count as 1 in the overflow check, so the strides LibTorch derives fit too.
    public static func elementCount(_ shape: [Int]) -> Int? {
        var volume = 1
        for dimension in shape {
            guard dimension >= 0 else { return nil }
            let (product, overflow) = volume.multipliedReportingOverflow(by: max(dimension, 1))
            if overflow { return nil }
            volume = product
        }
        return shape.contains(0) ? 0 : volume
    }

    /// Bytes of a `shape` × `dtype` tensor, or nil if that is not a representable size.
    public static func byteCount(_ shape: [Int], _ dtype: DType) -> Int? {
        guard let count = elementCount(shape) else { return nil }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
        return overflow ? nil : bytes
    }

    /// Parses and checks the header of a whole file held in `bytes`. `path` only names the
    /// file in errors. Every size and offset is checked, so hostile files throw, never trap.
    public static func header(of bytes: UnsafeRawBufferPointer, path: String) throws -> Header {
        func fail(_ message: String, cause: String? = nil) -> TorchError {
            TorchError(.format, "\(path): \(message)", cause: cause)
        }
        let size = bytes.count
        guard size >= 8 else { throw fail("\(size) bytes is too short for a safetensors file") }
        var headerLength: UInt64 = 0
        withUnsafeMutableBytes(of: &headerLength) {
            $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<8]))
        }
        headerLength = UInt64(littleEndian: headerLength)
        guard headerLength <= UInt64(min(maxHeaderLength, size - 8)) else {
            throw fail("header length \(headerLength) does not fit a \(size)-byte file")
        }
        let dataStart = 8 + Int(headerLength)
        let dataSize = size - dataStart
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(bytes: bytes.baseAddress! + 8, count: dataStart - 8))
        } catch {
            throw fail("the header is not JSON", cause: "\(error)")
        }
        guard let header = object as? [String: Any] else { throw fail("the header is not a JSON object") }
        var entries: [Entry] = []
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                guard let pairs = value as? [String: Any] else { throw fail("__metadata__ is not an object") }
                for (key, text) in pairs {
                    guard let text = text as? String else { throw fail("metadata '\(key)' is not a string") }
                    metadata[key] = text
                }
                continue
            }
            guard let entry = value as? [String: Any], let code = entry["dtype"] as? String,
                let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2
            else {
                throw fail("tensor '\(name)' needs dtype, shape (integers) and data_offsets (two integers)")
            }
            guard let dtype = codes.first(where: { $0.value == code })?.key else {
                throw fail("tensor '\(name)' has unsupported dtype \(code)")
            }
            guard shape.allSatisfy({ $0 >= 0 }) else {
                throw fail("tensor '\(name)' declares shape \(shape) with a negative dimension")
            }
            guard let byteCount = byteCount(shape, dtype) else {
                throw fail("tensor '\(name)' declares shape \(shape) whose byte size overflows")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end, end <= dataSize else {
                throw fail("tensor '\(name)' byte range \(begin)..<\(end) is not inside the \(dataSize) data bytes")
            }
            guard end - begin == byteCount else {
                throw fail(
                    "tensor '\(name)' byte range \(begin)..<\(end) holds \(end - begin) bytes, "
                        + "but \(shape) \(dtype) needs \(byteCount)")
            }
            entries.append(Entry(name: name, dtype: dtype, shape: shape, begin: begin, end: end))
        }
        entries.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        for (a, b) in zip(entries, entries.dropFirst()) where b.begin < a.end {
            throw fail("tensors '\(a.name)' and '\(b.name)' overlap")
        }
        return Header(entries: entries, metadata: metadata, dataStart: dataStart)
    }
}
