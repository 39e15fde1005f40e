import ConfigCoding
import Foundation
import Testing
import TestSupport
import VideoIO
import Yams

@Suite("VideoIO configuration from YAML")
struct ConfigurationTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    func decode(_ yaml: String) throws -> VideoIOConfiguration {
        do {
            return try YAMLDecoder().decode(VideoIOConfiguration.self, from: yaml)
        } catch let error as DecodingError {
            throw configurationError(error, source: "test.yaml")
        }
    }

    @Test("the shipped Configs/clips.yaml states exactly the built-in defaults")
    func shippedDefaults() throws {
        let text = try String(contentsOf: Self.repository.appendingPathComponent("Configs/clips.yaml"), encoding: .utf8)
        let configuration = try decode(text)
        #expect(configuration == VideoIOConfiguration())
        try configuration.validate()
    }

    @Test("missing keys take their defaults")
    func partial() throws {
        let configuration = try decode("clips:\n  fps: 12\n  buckets:\n    sizes: [256]\n")
        #expect(configuration.clips.fps == 12)
        #expect(configuration.clips.frames == 17)
        #expect(configuration.clips.buckets.sizes == [256])
        #expect(configuration.clips.buckets.aspectRatios == AspectRatio.defaults)
        #expect(configuration.limits == VideoIOLimits())
    }

    @Test("an unknown key is an error naming it and the known keys")
    func unknownKey() throws {
        do {
            _ = try decode("clips:\n  buckets:\n    size: [256]\n")
            Issue.record("a misspelt key was accepted")
        } catch let error as ConfigurationError {
            #expect(error.code == .unknownKey)
            #expect(error.location == "test.yaml: clips.buckets.size")
            #expect(error.message.contains("sizes, aspect_ratios"))
        }
    }

    @Test("a wrong value type names the key")
    func wrongType() throws {
        do {
            _ = try decode("clips:\n  frames: many\n")
            Issue.record("a string was accepted for frames")
        } catch let error as ConfigurationError {
            #expect(error.location == "test.yaml: clips.frames")
            #expect(error.message.contains("integer"))
        }
    }

    @Test("a bad aspect ratio names the list entry")
    func badAspect() throws {
        do {
            _ = try decode("clips:\n  buckets:\n    aspect_ratios: [\"16:9\", \"wide\"]\n")
            Issue.record("'wide' was accepted")
        } catch let error as ConfigurationError {
            #expect(error.location == "test.yaml: clips.buckets.aspect_ratios[1]")
            #expect(error.message.contains("W:H"))
        }
    }
}

@Suite("Schemas/clips.schema.json documents the configuration truthfully")
struct ConfigurationSchemaTests {
    @Test("every documented key decodes, and its documented default is the real default")
    func schemaDefaults() throws {
        let url = ConfigurationTests.repository.appendingPathComponent("Schemas/clips.schema.json")
        #expect(try SchemaDefaults.leaves(of: url).count == 15)
        // One document holding every documented key at its documented default.
        let decoded = try JSONDecoder().decode(VideoIOConfiguration.self, from: SchemaDefaults.document(of: url))
        #expect(decoded == VideoIOConfiguration())
    }
}
