/// Strict decoding for `…Configuration` types: unknown keys are errors that name the
import Diagnostics
/// key and list the known ones, and every decoding failure is reported as
/// `path.to.key: what is wrong` so a person can fix their YAML without reading code.

/// A coding key for any string: used to see every key a document holds.
public struct AnyCodingKey: CodingKey, Hashable, Sendable {
    public var stringValue: String
    public var intValue: Int?
    public init(stringValue: String) {
        self.stringValue = stringValue
        self.intValue = nil
    }
    public init(intValue: Int) {
        self.stringValue = String(intValue)
        self.intValue = intValue
    }
}

/// A configuration document that cannot be used.
public struct ConfigurationError: CodedError, Equatable {
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

/// "buckets.sizes[1]" for a coding path.
public func keyPath(_ path: [CodingKey]) -> String {
    var text = ""
    for key in path {
        if let index = key.intValue {
            text += "[\(index)]"
        } else {
            text += text.isEmpty ? key.stringValue : "." + key.stringValue
        }
    }
    return text.isEmpty ? "(top level)" : text
}

/// Turns a `DecodingError` from any decoder into a `ConfigurationError` naming the key.
public func configurationError(_ error: DecodingError, source: String) -> ConfigurationError {
    switch error {
    case .dataCorrupted(let context):
        let unknown = context.debugDescription.hasPrefix("unknown key")
        return ConfigurationError(
            unknown ? .unknownKey : .invalidValue,
            location: "\(source): \(keyPath(context.codingPath))",
            message: context.debugDescription,
            cause: context.underlyingError.map { "\($0)" })
    case .keyNotFound(let key, let context):
        return ConfigurationError(
            .invalidValue, location: "\(source): \(keyPath(context.codingPath + [key]))",
            message: "required key is missing")
    case .typeMismatch(let type, let context):
        return ConfigurationError(
            .invalidValue, location: "\(source): \(keyPath(context.codingPath))",
            message: "expected \(describe(type))")
    case .valueNotFound(let type, let context):
        return ConfigurationError(
            .invalidValue, location: "\(source): \(keyPath(context.codingPath))",
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

// MARK: - Sections

/// A configuration type whose document may set any subset of its keys.
///
/// Decoding starts from defaults and overrides only the keys present, recursing into nested
/// sections *over the values the parent already holds* — so a partial `video:` section keeps
/// the daemon's own defaults for what it leaves out, not `VideoIOConfiguration()`'s. Unknown
/// keys are errors that name the key; every other error carries its key path. Each key is
/// written once, in `keys`, and drives both decoding and encoding.
public protocol ConfigurationSection: Codable {
    /// The value a document that sets nothing decodes to (as a top-level document, or as a
    /// list element; a nested section starts from its parent's value instead).
    static var defaults: Self { get }
    /// Every key a document may set, each bound to a property.
    static var keys: [ConfigurationKey<Self>] { get }
}

extension ConfigurationSection {
    public init(from decoder: Decoder) throws {
        self = try Self.decode(over: Self.defaults, from: decoder)
    }

    /// `base` with every key `decoder`'s mapping holds applied over it.
    public static func decode(over base: Self, from decoder: Decoder) throws -> Self {
        let container = try decoder.container(keyedBy: AnyCodingKey.self)
        let known = keys.map(\.name)
        for key in container.allKeys where !known.contains(key.stringValue) {
            throw DecodingError.dataCorruptedError(
                forKey: key, in: container,
                debugDescription:
                    "unknown key '\(key.stringValue)'; known keys: \(known.joined(separator: ", "))")
        }
        var value = base
        for key in keys {
            let codingKey = AnyCodingKey(stringValue: key.name)
            guard container.contains(codingKey) else { continue }
            try key.decode(&value, try container.superDecoder(forKey: codingKey))
        }
        return value
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: AnyCodingKey.self)
        for key in Self.keys { try key.encode(self, &container) }
    }
}

/// One key of a `ConfigurationSection`: its name in documents and the property it sets.
public struct ConfigurationKey<Root> {
    public let name: String
    let decode: (inout Root, Decoder) throws -> Void
    let encode: (Root, inout KeyedEncodingContainer<AnyCodingKey>) throws -> Void

    /// `name` sets the property at `path`. A nested section is decoded over the value the
    /// parent holds; an optional left `nil` is not written when encoding.
    public init<Value: Codable>(_ name: String, _ path: WritableKeyPath<Root, Value>) {
        self.name = name
        decode = { root, decoder in
            if let current = root[keyPath: path] as? any ConfigurationSection {
                root[keyPath: path] = try overlay(current, decoder) as! Value
            } else {
                root[keyPath: path] = try Value(from: decoder)
            }
        }
        encode = { root, container in
            let value = root[keyPath: path]
            if let optional = value as? any OptionalValue, optional.isNone { return }
            try container.encode(value, forKey: AnyCodingKey(stringValue: name))
        }
    }
}

private func overlay<Section: ConfigurationSection>(_ base: Section, _ decoder: Decoder) throws -> Section {
    try Section.decode(over: base, from: decoder)
}

private protocol OptionalValue { var isNone: Bool { get } }
extension Optional: OptionalValue { var isNone: Bool { self == nil } }
