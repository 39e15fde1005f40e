import Foundation

/// Whether `python3` can import every module in `modules` (e.g. "numpy", "safetensors.numpy"):
/// tests that compare with Python are skipped with a clear message when it cannot.
public func pythonCanImport(_ modules: String...) -> Bool {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", modules.map { "import \($0)" }.joined(separator: "; ")]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return false }
    process.waitUntilExit()
    return process.terminationStatus == 0
}
