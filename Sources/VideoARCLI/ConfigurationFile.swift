import ConfigCoding
import Foundation
import Yams

/// Loads a YAML configuration file into a `…Configuration` type. An empty file (or one
/// holding only comments) gives the defaults; every error names the file and the key.
func loadConfiguration<T: Decodable>(_ type: T.Type, from path: String) throws -> T {
    let text: String
    do {
        text = try String(contentsOfFile: path, encoding: .utf8)
    } catch {
        throw ConfigurationError(.io, location: path, message: "cannot read the file: \(error.localizedDescription)")
    }
    do {
        let isEmpty = try Yams.load(yaml: text) == nil
        return try YAMLDecoder().decode(T.self, from: isEmpty ? "{}" : text)
    } catch let error as DecodingError {
        throw configurationError(error, source: path)
    } catch let error as YamlError {
        throw ConfigurationError(.syntax, location: path, message: "not valid YAML", cause: "\(error)")
    }
}
