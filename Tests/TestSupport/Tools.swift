import Foundation

/// A failed external tool run (the fixture generators' ffmpeg).
public struct ToolError: Error, CustomStringConvertible {
    public var description: String
}

/// Runs `tool` (looked up on PATH) and throws with its stderr when it fails.
public func runTool(_ tool: String, _ arguments: [String]) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [tool] + arguments
    let errors = Pipe()
    process.standardError = errors
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    if process.terminationStatus != 0 {
        throw ToolError(description: "\(tool) \(arguments.joined(separator: " ")): \(message)")
    }
}

/// A fresh temporary folder.
public func temporaryFolder(_ prefix: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
