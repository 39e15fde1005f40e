// libFuzzer target: everything VideoAR computes from a shard's bytes before LibTorch sees
// them — the safetensors header (Sources/Tensor/SafeTensorsHeader.swift) and the shard
// layout read from its metadata (Sources/Shards/ShardLayout.swift). Built by Scripts/fuzz.
import Foundation
import Tensor

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    guard let header = try? SafeTensors.header(of: bytes, path: "fuzz.safetensors") else { return 0 }
    // What SafeTensors.read relies on before wrapping the bytes for LibTorch.
    var previousEnd = 0
    for entry in header.entries {
        precondition(
            entry.begin >= previousEnd && entry.begin <= entry.end && header.dataStart + entry.end <= size,
            "entry \(entry) escapes the data section or overlaps")
        precondition(
            SafeTensors.byteCount(entry.shape, entry.dtype) == entry.end - entry.begin,
            "entry \(entry) has the wrong size")
        previousEnd = entry.end
    }
    guard let layout = try? ShardLayout(metadata: header.metadata, path: "fuzz.safetensors") else { return 0 }
    // What Shard.bits(row:) relies on: the sizes are positive and their arithmetic does not trap.
    precondition(
        layout.bitsPerClip > 0 && layout.bytesPerClip * 8 >= layout.bitsPerClip, "layout \(layout) has bad sizes")
    // The metadata we write for a layout reads back as the same layout.
    let again = try? ShardLayout(metadata: layout.metadata, path: "fuzz.safetensors")
    precondition(
        again == layout || layout.fps.isNaN, "layout \(layout) does not round-trip: \(String(describing: again))")
    return 0
}
