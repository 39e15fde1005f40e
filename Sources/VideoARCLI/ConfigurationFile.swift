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
        // compose, not load: load builds Swift values and traps on a non-scalar key (`? [a]: 1`).
        let node = try Yams.compose(yaml: text)
        if let key = node.flatMap(complexKey(in:)) {
            throw ConfigurationError(
                .unknownKey, location: key.mark.map { "\(path): line \($0.line)" } ?? path,
                message: "a key must be a plain name, not a list or a mapping")
        }
        return try YAMLDecoder().decode(T.self, from: node == nil ? "{}" : text)
    } catch let error as DecodingError {
        throw configurationError(error, source: path)
    } catch let error as YamlError {
        throw ConfigurationError(.syntax, location: path, message: "not valid YAML", cause: "\(error)")
    }
}

/// The first mapping key that is not a plain scalar: decoders skip such keys silently, so
/// one would slip past the check for unknown keys.
private func complexKey(in node: Node) -> Node? {
    switch node {
    case .mapping(let mapping):
        for (key, value) in mapping {
            if key.scalar == nil { return key }
            if let found = complexKey(in: value) { return found }
        }
        return nil
    case .sequence(let sequence):
        return sequence.lazy.compactMap(complexKey(in:)).first
    default:
        return nil
    }
}
