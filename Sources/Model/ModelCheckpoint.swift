import Foundation
import Tensor

extension VideoARTransformer {
    static let configKey = "videoar.model.config"

    /// Writes the weights as safetensors with the layout in the metadata, so the file alone
    /// rebuilds the model (and Python reads it with `safetensors.numpy.load_file`).
    public func save(to path: String, metadata: [String: String] = [:]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var all = metadata
        all[Self.configKey] = String(decoding: try encoder.encode(configuration), as: UTF8.self)
        try SafeTensors.write(
            Dictionary(uniqueKeysWithValues: namedParameters().map { ($0.name, $0.tensor) }), metadata: all, to: path)
    }

    /// A model from a file `save(to:)` wrote; `metadata` returns the file's other entries
    /// (e.g. the tokenizer id the model was trained on).
    public convenience init(checkpoint path: String) throws {
        let file: SafeTensors.File
        do { file = try SafeTensors.read(path) } catch {
            throw ModelError(.checkpoint, "cannot read \(path)", cause: "\(error)")
        }
        guard let text = file.metadata[Self.configKey],
            let configuration = try? JSONDecoder().decode(ModelConfiguration.self, from: Data(text.utf8))
        else {
            throw ModelError(
                .checkpoint, "\(path) has no model configuration in its metadata: not a VideoAR model file")
        }
        try self.init(configuration)
        do { try load(file.tensors) } catch {
            throw ModelError(
                .checkpoint, "\(path) does not fit model layout '\(configuration.name)'", cause: "\(error)")
        }
        checkpointMetadata = file.metadata
    }
}
