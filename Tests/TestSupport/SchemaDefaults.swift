import Foundation

/// The JSON Schemas in `Schemas/` document every configuration key with its default; tests
/// rebuild a document from them and check that it decodes to the built-in defaults.
public enum SchemaDefaults {
    /// (key path, documented default) for every leaf of the schema at `url`.
    public static func leaves(of url: URL) throws -> [([String], Any)] {
        guard let schema = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any] else {
            throw ToolError(description: "\(url.path) is not a JSON object")
        }
        return leaves(schema)
    }

    /// One JSON document holding every documented key at its documented default.
    public static func document(of url: URL) throws -> Data {
        var document: [String: Any] = [:]
        for (path, value) in try leaves(of: url) { insert(value, at: path[...], into: &document) }
        return try JSONSerialization.data(withJSONObject: document)
    }

    private static func leaves(_ schema: [String: Any], prefix: [String] = []) -> [([String], Any)] {
        guard let properties = schema["properties"] as? [String: Any] else { return [] }
        var result: [([String], Any)] = []
        for (name, value) in properties {
            guard let property = value as? [String: Any] else { continue }
            if property["properties"] != nil {
                result += leaves(property, prefix: prefix + [name])
            } else {
                result.append((prefix + [name], property["default"] ?? NSNull()))
            }
        }
        return result
    }

    private static func insert(_ value: Any, at path: ArraySlice<String>, into node: inout [String: Any]) {
        guard let key = path.first else { return }
        if path.count == 1 {
            node[key] = value
            return
        }
        var child = node[key] as? [String: Any] ?? [:]
        insert(value, at: path.dropFirst(), into: &child)
        node[key] = child
    }
}
