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
            #expect(try loaded.to(.float64).scalars(as: Double.self) == original.to(.float64).scalars(as: Double.self), "\(name)")
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
            ("out-of-range", length + header + [0, 0, 0, 0]),   // 16 data bytes promised, 4 present
        ]
    }()

    @Test("damaged files are errors, never crashes", arguments: damagedFiles)
    func damaged(name: String, bytes: [UInt8]) throws {
        let path = Self.folder + "/\(name).safetensors"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(throws: TorchError.self) { try SafeTensors.read(path) }
    }

    static let pythonHasSafetensors = pythonCanImport("safetensors.numpy", "numpy")

    @Test("Python's safetensors reads our file and we read Python's",
          .enabled(if: pythonHasSafetensors, "needs `pip install safetensors numpy` (make test installs them)"))
    func pythonInterop() throws {
        let ours = Self.folder + "/ours.safetensors"
        let theirs = Self.folder + "/theirs.safetensors"
        try SafeTensors.write(["a": Tensor.arange(0, 6).reshaped([2, 3]), "b": Tensor.arange(0, 4, dtype: .int64),
                               "c": Tensor([1, 2, 3] as [UInt8]), "d": Tensor.arange(0, 3).to(.float16)],
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
