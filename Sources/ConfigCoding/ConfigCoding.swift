/// Strict decoding for `…Configuration` types: unknown keys are errors that name the
/// key and list the known ones, and every decoding failure is reported as
/// `path.to.key: what is wrong` so a person can fix their YAML without reading code.

/// A coding key for any string: used to see every key a document holds.
public struct AnyCodingKey: CodingKey, Hashable, Sendable {
    public var stringValue: String
    public var intValue: Int?
    public init(stringValue: String) { self.stringValue = stringValue; self.intValue = nil }
    public init(intValue: Int) { self.stringValue = String(intValue); self.intValue = intValue }
}

/// A configuration document that cannot be used.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Code: String, Sendable { case unknownKey = "unknown-key", invalidValue = "invalid-value", syntax, io }
    public var code: Code
    /// Where: "file.yaml: buckets.sizes[1]".
    public var location: String
    public var message: String
    /// The underlying parser or decoder message, when there is one.
    public var cause: String?

    public init(_ code: Code, location: String, message: String, cause: String? = nil) {
        self.code = code
        self.location = location
        self.message = message
        self.cause = cause
    }

    public var description: String { "\(location): \(message)" }
}

extension Decoder {
    /// Throws when the current mapping holds a key `Keys` does not know, naming it and
    /// listing the known ones (a typo must not silently fall back to a default).
    public func rejectUnknownKeys<Keys: CodingKey & CaseIterable>(_ keys: Keys.Type) throws {
        let container = try self.container(keyedBy: AnyCodingKey.self)
        let known = Keys.allCases.map(\.stringValue)
        for key in container.allKeys where !known.contains(key.stringValue) {
            throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription:
                "unknown key '\(key.stringValue)'; known keys: \(known.joined(separator: ", "))")
        }
    }
}

/// "buckets.sizes[1]" for a coding path.
public func keyPath(_ path: [CodingKey]) -> String {
    var text = ""
    for key in path {
        if let index = key.intValue { text += "[\(index)]" } else { text += text.isEmpty ? key.stringValue : "." + key.stringValue }
    }
    return text.isEmpty ? "(top level)" : text
}

/// Turns a `DecodingError` from any decoder into a `ConfigurationError` naming the key.
public func configurationError(_ error: DecodingError, source: String) -> ConfigurationError {
    switch error {
    case .dataCorrupted(let context):
        let unknown = context.debugDescription.hasPrefix("unknown key")
        return ConfigurationError(unknown ? .unknownKey : .invalidValue,
                                  location: "\(source): \(keyPath(context.codingPath))",
                                  message: context.debugDescription,
                                  cause: context.underlyingError.map { "\($0)" })
    case .keyNotFound(let key, let context):
        return ConfigurationError(.invalidValue, location: "\(source): \(keyPath(context.codingPath + [key]))",
                                  message: "required key is missing")
    case .typeMismatch(let type, let context):
        return ConfigurationError(.invalidValue, location: "\(source): \(keyPath(context.codingPath))",
                                  message: "expected \(describe(type))")
    case .valueNotFound(let type, let context):
        return ConfigurationError(.invalidValue, location: "\(source): \(keyPath(context.codingPath))",
                                  message: "expected \(describe(type)), found nothing")
    @unknown default:
        return ConfigurationError(.invalidValue, location: source, message: "\(error)")
    }
}

private func describe(_ type: Any.Type) -> String {
    switch type {
    case is Int.Type: return "an integer"
    case is Double.Type: return "a number"
    case is Bool.Type: return "true or false"
    case is String.Type: return "a string"
    default:
        let name = String(describing: type)
        if name.hasPrefix("Array") { return "a list" }
        if name.hasPrefix("Dictionary") { return "a mapping" }
        return "a \(name) value"
    }
}
