import AtomicFiles
import Diagnostics
import Foundation
import Tensor

/// A training run's folder: `checkpoints/step-N/`, the `latest` pointer to the newest
/// complete one, and `log.jsonl` with one record per step.
///
/// The pointer moves only after a checkpoint folder is complete, and the log is cut back to
/// the checkpoint's step on resume, so kill -9 at any moment leaves a run that resumes to the
/// same result with each step logged exactly once.
public struct RunFolder: Sendable {
    public let path: String

    public init(_ path: String) { self.path = path }

    public var logPath: String { path + "/log.jsonl" }
    public var checkpoints: String { path + "/checkpoints" }

    /// Creates the folder for a new run, or checks there is a run to continue.
    /// - Returns: the checkpoint to resume from (nil for a new run).
    public func open(resume: Bool) throws -> String? {
        let latest = latestCheckpoint
        if !resume, latest != nil {
            throw RunError(
                .checkpoint, "\(path) already holds a run; pass --resume to continue it or choose another --run folder")
        }
        do {
            try FileManager.default.createDirectory(atPath: checkpoints, withIntermediateDirectories: true)
        } catch {
            throw RunError(.io, "cannot create the run folder \(path)", cause: "\(error)")
        }
        return latest
    }

    /// The newest complete checkpoint folder, if any.
    public var latestCheckpoint: String? {
        guard
            let name = try? String(contentsOfFile: path + "/latest", encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines), !name.isEmpty
        else { return nil }
        let folder = checkpoints + "/" + name
        return FileManager.default.fileExists(atPath: folder + "/state.json") ? folder : nil
    }

    /// Writes checkpoint `step`: `write` fills the folder, then `state` goes to `state.json`,
    /// then `latest` moves, then older checkpoints (and half-written ones) are removed.
    public func saveCheckpoint<State: Encodable>(step: Int, state: State, write: (String) throws -> Void) throws {
        let name = String(format: "step-%07d", step)
        let folder = checkpoints + "/" + name
        let fm = FileManager.default
        try? fm.removeItem(atPath: folder)
        try fm.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try write(folder)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try Array(encoder.encode(state)).withUnsafeBytes { try AtomicFile.write($0, to: folder + "/state.json") }
        try Array((name + "\n").utf8).withUnsafeBytes { try AtomicFile.write($0, to: path + "/latest") }
        for old in (try? fm.contentsOfDirectory(atPath: checkpoints)) ?? [] where old != name {
            try? fm.removeItem(atPath: checkpoints + "/" + old)
        }
    }

    /// Reads a checkpoint's `state.json`.
    public func loadState<State: Decodable>(_ type: State.Type, from folder: String) throws -> State {
        do {
            return try JSONDecoder().decode(
                State.self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/state.json")))
        } catch {
            throw RunError(.checkpoint, "cannot read \(folder)/state.json", cause: "\(error)")
        }
    }

    // MARK: The log

    /// Every complete record of `log.jsonl` (a torn last line, from a crash mid-write, is skipped).
    public func records<Record: Decodable>(_ type: Record.Type, file: String = "log.jsonl") throws -> [Record] {
        let logPath = path + "/" + file
        guard let text = try? String(contentsOfFile: logPath, encoding: .utf8) else {
            throw RunError(.io, "\(logPath) not found: is \(path) a training run folder?")
        }
        let decoder = JSONDecoder()
        return text.split(separator: "\n").compactMap { try? decoder.decode(Record.self, from: Data($0.utf8)) }
    }

    /// Drops log records past `step` (written after the checkpoint a resumed run starts
    /// from) and torn lines, so a resumed run's log has each step exactly once.
    public func trimLog(after step: Int, file: String = "log.jsonl") throws {
        struct Stepped: Decodable { var step: Int }
        let logPath = path + "/" + file
        guard let text = try? String(contentsOfFile: logPath, encoding: .utf8) else { return }
        let decoder = JSONDecoder()
        var kept: [Substring] = []
        var dropped = 0
        for line in text.split(separator: "\n") {
            if let r = try? decoder.decode(Stepped.self, from: Data(line.utf8)), r.step <= step {
                kept.append(line)
            } else {
                dropped += 1
            }
        }
        guard dropped > 0 else { return }
        let joined = kept.isEmpty ? "" : kept.joined(separator: "\n") + "\n"
        try Array(joined.utf8).withUnsafeBytes { try AtomicFile.write($0, to: logPath) }
    }
}

/// Appends JSON lines, flushed per record (a crash loses at most the line being written;
/// `RunFolder.trimLog` drops a torn or post-checkpoint tail on resume).
public final class JSONLinesWriter {
    private let handle: FileHandle
    private let encoder = JSONEncoder()

    public init(path: String) throws {
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
        }
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw RunError(.io, "cannot open \(path) for appending")
        }
        self.handle = handle
        handle.seekToEndOfFile()
        encoder.outputFormatting = [.sortedKeys]
    }

    deinit { try? handle.close() }

    public func append<Record: Encodable>(_ record: Record) throws {
        var data = try encoder.encode(record)
        data.append(0x0A)
        try handle.write(contentsOf: data)
    }
}

extension AdamW {
    /// The moments of every parameter as named tensors for a safetensors file
    /// (`prefix.NAME.exp_avg`, `prefix.NAME.exp_avg_sq`, `prefix.NAME.step`; the parameter's index
    /// stands in for NAME when the groups carry no names), and the per-parameter step counts.
    public func checkpoint(prefix: String, into moments: inout [String: Tensor]) throws -> [Int] {
        try parameters.indices.map { i in
            let state = try state(of: i)
            let key = "\(prefix).\(names?[i] ?? String(i))"
            if let m = state.expAvg, let v = state.expAvgSq {
                moments[key + ".exp_avg"] = m
                moments[key + ".exp_avg_sq"] = v
                moments[key + ".step"] = try Tensor([Int64(state.step)], shape: [1])
            }
            return state.step
        }
    }

    /// Restores what `checkpoint(prefix:into:)` saved, each moment onto the parameter it was saved
    /// for: by name, or — for files keyed by index — by position in `legacyOrder` (the parameter
    /// names in the order the writing version held them; nil means this optimizer's own order).
    /// A moment whose shape does not match its parameter is an error, never a silent mismatch.
    public func restore(
        prefix: String, from moments: [String: Tensor], steps: [Int], checkpoint: String, legacyOrder: [String]? = nil
    ) throws {
        let byIndex = moments.keys.contains { $0.hasPrefix(prefix + ".0.") }
        if names == nil && steps.count != parameters.count {
            throw RunError(
                .checkpoint,
                "\(checkpoint): optimizer state for \(steps.count) \(prefix) parameters, the model has \(parameters.count)"
            )
        }
        var restored: [(index: Int, state: AdamW.ParameterState)] = []
        for i in parameters.indices {
            let key: String
            var step = steps.indices.contains(i) ? steps[i] : 0
            if !byIndex {
                key = "\(prefix).\(names?[i] ?? String(i))"
                if let saved = moments[key + ".step"] { step = Int(try saved.scalars(as: Int64.self).first ?? 0) }
            } else if let name = names?[i], let order = legacyOrder ?? names {
                // Keyed by index: find where the writing version held this parameter.
                guard let j = order.firstIndex(of: name) else { continue }
                key = "\(prefix).\(j)"
                if steps.indices.contains(j) { step = steps[j] }
            } else {
                key = "\(prefix).\(i)"  // neither side names its parameters: index for index
            }
            guard let m = moments[key + ".exp_avg"], let v = moments[key + ".exp_avg_sq"] else { continue }
            guard m.shape == parameters[i].shape, v.shape == parameters[i].shape else {
                throw RunError(
                    .checkpoint,
                    "\(checkpoint): optimizer moments \(key) have shape \(m.shape), the parameter \(names?[i] ?? "#\(i)") has \(parameters[i].shape); the checkpoint was written for another model layout"
                )
            }
            restored.append((i, AdamW.ParameterState(step: step, expAvg: m, expAvgSq: v)))
        }
        // Every moment checked before any is applied: a refused checkpoint leaves the state as it was.
        for (i, state) in restored { try setState(of: i, state) }
    }
}

/// A run-folder failure: `RunErrorCode`, a message, the cause.
public typealias RunError = ModuleError<RunErrorCode>

public enum RunErrorCode: String, Sendable { case checkpoint, io }
