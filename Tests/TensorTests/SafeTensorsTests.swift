import Foundation
import Testing
import TestSupport
@testable import Tensor

@Suite("safetensors")
struct SafeTensorsTests {
    static let folder: String = {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("videoar-safetensors-\(getpid())").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    @Test("every supported dtype round-trips with metadata, byte for byte")
    func roundTrip() throws {
        let base = try Tensor.arange(-6, 6).reshaped([3, 4])
        var tensors: [String: Tensor] = [:]
        for dtype in [DType.float32, .float16, .bfloat16, .float64, .int64, .int32, .int8, .uint8] {
            tensors["t.\(dtype)"] = try (dtype == .uint8 ? base + 6 : base).to(dtype)
        }
        tensors["flags"] = try base.greater(0)
        let path = Self.folder + "/all.safetensors"
        try SafeTensors.write(tensors, metadata: ["format": "pt", "note": "hello"], to: path)
        let file = try SafeTensors.read(path)
        #expect(file.metadata == ["format": "pt", "note": "hello"])
        #expect(Set(file.tensors.keys) == Set(tensors.keys))
        for (name, original) in tensors {
            let loaded = try #require(file.tensors[name])
            #expect(loaded.dtype == original.dtype && loaded.shape == original.shape, "\(name)")
            #expect(
                try loaded.to(.float64).scalars(as: Double.self) == original.to(.float64).scalars(as: Double.self),
                "\(name)")
        }
        // The header is padded so every tensor starts aligned.
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let headerLength = data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        #expect((8 + headerLength) % 8 == 0)
    }

    @Test("loaded tensors outlive the file handle and may be modified without touching the file")
    func copyOnWrite() throws {
        let path = Self.folder + "/cow.safetensors"
        try SafeTensors.write(["w": Tensor([1, 2, 3] as [Float])], to: path)
        var loaded: Tensor? = try SafeTensors.read(path).tensors["w"]
        try loaded!.add_(Tensor([10, 10, 10] as [Float]))
        #expect(try loaded!.scalars(as: Float.self) == [11, 12, 13])
        loaded = nil
        #expect(try SafeTensors.read(path).tensors["w"]!.scalars(as: Float.self) == [1, 2, 3])
    }

    static let damagedFiles: [(String, [UInt8])] = {
        let le8: [UInt8] = [8, 0, 0, 0, 0, 0, 0, 0]
        let header = Array(#"{"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#.utf8)
        let length: [UInt8] = [UInt8(header.count), 0, 0, 0, 0, 0, 0, 0]
        return [
            ("short", [0, 0, 0, 0]),
            ("huge-header", [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0x20, 0x20]),
            ("not-json", le8 + Array("notjson!".utf8)),
            ("out-of-range", length + header + [0, 0, 0, 0]),  // 16 data bytes promised, 4 present
        ]
    }()

    @Test("damaged files are errors, never crashes", arguments: damagedFiles)
    func damaged(name: String, bytes: [UInt8]) throws {
        let path = Self.folder + "/\(name).safetensors"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(throws: TorchError.self) { try SafeTensors.read(path) }
    }

    /// A file of `header` (JSON) and `data` bytes; `length` overrides the header length field.
    static func file(_ header: String, data: [UInt8] = [], length: UInt64? = nil) -> [UInt8] {
        let json = Array(header.utf8)
        return withUnsafeBytes(of: (length ?? UInt64(json.count)).littleEndian, Array.init) + json + data
    }

    /// Hostile headers, each with the words its error must contain.
    static let hostileFiles: [(String, [UInt8], String)] = [
        (
            "overflowing shape",
            file(#"{"bits":{"dtype":"U8","shape":[4611686018427387904,4611686018427387904],"data_offsets":[0,0]}}"#),
            "tensor 'bits' declares shape [4611686018427387904, 4611686018427387904] whose byte size overflows"
        ),
        (
            "overflowing bytes", file(#"{"w":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,0]}}"#),
            "whose byte size overflows"
        ),
        (
            "negative dimension",
            file(#"{"w":{"dtype":"F32","shape":[-1,4],"data_offsets":[0,16]}}"#, data: .init(repeating: 0, count: 16)),
            "negative dimension"
        ),
        (
            "offsets past the end",
            file(#"{"w":{"dtype":"U8","shape":[8],"data_offsets":[9223372036854775800,9223372036854775807]}}"#),
            "is not inside the 0 data bytes"
        ),
        (
            "negative offset", file(#"{"w":{"dtype":"U8","shape":[4],"data_offsets":[-4,0]}}"#, data: [1, 2, 3, 4]),
            "is not inside"
        ),
        (
            "reversed offsets", file(#"{"w":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}"#, data: [1, 2, 3, 4]),
            "is not inside"
        ),
        ("header longer than the file", file(#"{}"#, length: 3), "header length 3 does not fit a 10-byte file"),
        ("header length 2^64 - 1", file(#"{}"#, length: .max), "header length 18446744073709551615 does not fit"),
        ("header not JSON", file("{not json"), "the header is not JSON"),
        ("header a JSON list", file("[1, 2]"), "the header is not a JSON object"),
        (
            "dtype and bytes disagree",
            file(#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: .init(repeating: 0, count: 8)),
            "holds 8 bytes, but [3] float32 needs 12"
        ),
        (
            "fractional shape", file(#"{"w":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}}"#, data: [0]),
            "needs dtype, shape"
        ),
        (
            "unknown dtype",
            file(#"{"w":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}"#, data: .init(repeating: 0, count: 8)),
            "unsupported dtype C64"
        ),
        (
            "overlapping tensors",
            file(
                #"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}"#,
                data: [1, 2, 3, 4]), "overlap"
        ),
        ("metadata not strings", file(#"{"__metadata__":{"n":1}}"#), "metadata 'n' is not a string"),
    ]

    @Test("hostile headers are errors that say what is wrong, never traps", arguments: hostileFiles)
    func hostile(name: String, bytes: [UInt8], words: String) throws {
        let path = Self.folder + "/hostile-\(name.replacingOccurrences(of: " ", with: "-")).safetensors"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let error = try #require(throws: TorchError.self) { try SafeTensors.read(path) }
        #expect(error.code == .format)
        #expect(error.message.contains(words), "\(error)")
    }

    @Test("an empty tensor may have a huge other dimension: it holds no bytes")
    func emptyWithHugeDimension() throws {
        let path = Self.folder + "/empty-huge.safetensors"
        try Data(Self.file(#"{"e":{"dtype":"F32","shape":[0,4611686018427387904],"data_offsets":[0,0]}}"#))
            .write(to: URL(fileURLWithPath: path))
        let file = try SafeTensors.read(path)
        #expect(file.tensors["e"]?.shape == [0, 4_611_686_018_427_387_904])
        #expect(SafeTensors.byteCount([0, .max, .max], .float64) == nil)
        #expect(throws: TorchError.self) { try Tensor.fromBytes([], dtype: .uint8, shape: [1 << 62, 1 << 62]) }
    }

    static let pythonHasSafetensors = pythonCanImport("safetensors.numpy", "numpy")

    @Test(
        "Python's safetensors reads our file and we read Python's",
        .enabled(if: pythonHasSafetensors, "needs `pip install safetensors numpy` (make test installs them)"))
    func pythonInterop() throws {
        let ours = Self.folder + "/ours.safetensors"
        let theirs = Self.folder + "/theirs.safetensors"
        try SafeTensors.write(
            [
                "a": Tensor.arange(0, 6).reshaped([2, 3]), "b": Tensor.arange(0, 4, dtype: .int64),
                "c": Tensor([1, 2, 3] as [UInt8]), "d": Tensor.arange(0, 3).to(.float16),
            ],
            metadata: ["who": "swift"], to: ours)
        let script = """
            import numpy as np, sys
            from safetensors.numpy import load_file, save_file
            from safetensors import safe_open
            t = load_file(sys.argv[1])
            assert t["a"].dtype == np.float32 and t["a"].shape == (2, 3) and t["a"].tolist() == [[0,1,2],[3,4,5]], t["a"]
            assert t["b"].dtype == np.int64 and t["b"].tolist() == [0,1,2,3]
            assert t["c"].dtype == np.uint8 and t["c"].tolist() == [1,2,3]
            assert t["d"].dtype == np.float16 and t["d"].tolist() == [0,1,2]
            with safe_open(sys.argv[1], framework="numpy") as f:
                assert f.metadata() == {"who": "swift"}, f.metadata()
            save_file({"x": np.arange(12, dtype=np.float32).reshape(3, 4) / 2, "y": np.array([7, -8], dtype=np.int32)},
                      sys.argv[2], metadata={"who": "python"})
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, ours, theirs]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let file = try SafeTensors.read(theirs)
        #expect(file.metadata["who"] == "python")
        #expect(try file.tensors["x"]?.scalars(as: Float.self) == (0..<12).map { Float($0) / 2 })
        #expect(file.tensors["x"]?.shape == [3, 4])
        #expect(try file.tensors["y"]?.scalars(as: Int32.self) == [7, -8])
    }
}
