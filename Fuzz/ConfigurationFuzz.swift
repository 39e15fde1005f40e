// libFuzzer target: a YAML configuration file through the command line's own loader
// (Sources/VideoARCLI/ConfigurationFile.swift: Yams → the strict ConfigCoding decoders) into
// the daemon's IngestConfiguration and `videoar clips`'s VideoIOConfiguration, then their
// validation. Every failure must be a ConfigurationError (the CLI turns those into exit 64
// with the key named). Built by Scripts/fuzz.
import ConfigCoding
import Foundation
import VideoIO

let configurationPath = FileManager.default.temporaryDirectory.appendingPathComponent("videoar-fuzz-\(getpid()).yaml")
    .path

func load<T: Decodable>(_: T.Type, check: (T) throws -> Void) {
    do {
        try check(try loadConfiguration(T.self, from: configurationPath))
    } catch is ConfigurationError, is IngestError, is VideoIOError {
    } catch {
        preconditionFailure("\(T.self): an error the command line does not expect: \(type(of: error)): \(error)")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // Plain POSIX: Foundation's createFile writes atomically, several times slower per input.
    let fd = open(configurationPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    precondition(fd >= 0 && write(fd, data, size) == size && close(fd) == 0, "cannot write \(configurationPath)")
    load(IngestConfiguration.self) { try $0.validate() }
    load(VideoIOConfiguration.self) { try $0.validate() }
    return 0
}
