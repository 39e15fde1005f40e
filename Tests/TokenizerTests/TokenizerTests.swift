import Foundation
import Logging
import Tensor
import TestSupport
import Testing
import TokenFormat
import Yams
@testable import Tokenizer

@Suite("Causal 3D multi-scale tokenizer")
struct TokenizerTests {
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
    /// Small widths so the suite runs in seconds; the structure is the real one.
    static let small = TokenizerConfiguration(
        name: "test-small", baseChannels: 8, channelMultipliers: [1, 2, 2, 2, 2],
        latentDim: 8, normGroups: 4, seed: 11)
    static let tokenizer: Tokenizer = try! Tokenizer(configuration: small, logger: logger)

    /// A smooth moving pattern, uint8 [T, H, W, 3].
    static func video(frames: Int, height: Int, width: Int, seed: UInt64 = 1) throws -> Tensor {
        let g = Generator(seed: seed)
        let base = try Tensor.rand([frames, 3, 4, 4], generator: g)
            .interpolate(size: [height, width], mode: .bilinear)  // [T, 3, H, W]
        return try (base * 255).rounded().clamp(min: 0, max: 255).permuted([0, 2, 3, 1]).to(.uint8).contiguous()
    }

    @Test(
        "shapes for every bucket: the grid is H/16 × W/16 × (1 + (T−1)/4) and decoding restores the shape",
        arguments: [(17, 128, 128), (17, 96, 176), (17, 176, 96), (1, 128, 128), (33, 64, 64)])
    func shapes(frames: Int, height: Int, width: Int) throws {
        let video = try Self.video(frames: frames, height: height, width: width)
        let tokens = try Self.tokenizer.encode(video)
        #expect(tokens.latentFrames == 1 + (frames - 1) / 4)
        #expect(tokens.latentHeight == height / 16 && tokens.latentWidth == width / 16)
        #expect(tokens.schedule.scales.last == ScaleSchedule.Scale(height: height / 16, width: width / 16))
        #expect(tokens.schedule.scales.first == ScaleSchedule.Scale(height: 1, width: 1))
        #expect(tokens.bits.shape == [tokens.latentFrames, tokens.schedule.tokensPerFrame, 8])
        #expect(tokens.bits.dtype == .uint8)
        #expect(try tokens.bits.max().item() <= 1)
        let decoded = try Self.tokenizer.decode(tokens)
        #expect(decoded.shape == video.shape && decoded.dtype == .uint8)
    }

    @Test(
        "a latent widened k-fold starts as the narrower model: its first d bits and the reconstruction unchanged",
        arguments: [2, 3])
    func widenedLatent(k: Int) throws {
        let folder = try temporaryFolder("widened")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let narrowPath = folder + "/narrow.safetensors"
        try Self.tokenizer.save(to: narrowPath, trained: true)
        var layout = Self.small
        layout.latentDim = Self.small.latentDim * k
        let wide = try Tokenizer(configuration: layout, logger: Self.logger)
        #expect(try wide.warmStart(from: narrowPath).isEmpty)

        let clip = try Self.video(frames: 9, height: 64, width: 64, seed: 21)
        let narrowTokens = try Self.tokenizer.encode(clip)
        let wideTokens = try wide.encode(clip)
        let d = Self.small.latentDim
        #expect(wideTokens.bits.shape == [narrowTokens.latentFrames, narrowTokens.schedule.tokensPerFrame, d * k])
        let first = try wideTokens.bits.slice(dim: 2, 0..<d)
        #expect(try first.equal(narrowTokens.bits).to(.int64).min().item() == 1)
        let a = try Self.tokenizer.decode(narrowTokens).to(.int64)
        let b = try wide.decode(wideTokens).to(.int64)
        #expect(try (a - b).abs().max().item() <= 1)  // float rounding only
        // The new bits are not the old ones: a signed permutation of them, not a copy.
        let second = try wideTokens.bits.slice(dim: 2, d..<(2 * d))
        #expect(try second.equal(first).to(.int64).min().item() == 0)
    }

    @Test("a decoder grown by a residual block per level starts as the checkpoint: same tokens, same reconstruction")
    func deeperDecoder() throws {
        let folder = try temporaryFolder("deeper")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let shallowPath = folder + "/shallow.safetensors"
        try Self.tokenizer.save(to: shallowPath, trained: true)
        var layout = Self.small
        layout.decoderResBlocks = Self.small.resBlocks + 1
        let deeper = try Tokenizer(configuration: layout, logger: Self.logger)
        let seeded = try deeper.warmStart(from: shallowPath)
        // Only the new blocks start fresh, one per level.
        let newBlocks = Set(seeded.map { $0.components(separatedBy: ".").prefix(5).joined(separator: ".") })
        #expect(newBlocks.count == Self.small.channelMultipliers.count, "\(newBlocks.sorted())")
        let added = ".blocks.\(Self.small.resBlocks)"
        #expect(newBlocks.allSatisfy { $0.hasPrefix("decoder.levels.") && $0.hasSuffix(added) }, "\(newBlocks)")

        let clip = try Self.video(frames: 9, height: 64, width: 64, seed: 23)
        let tokens = try Self.tokenizer.encode(clip)
        let deeperTokens = try deeper.encode(clip)
        #expect(try deeperTokens.bits.equal(tokens.bits).to(.int64).min().item() == 1)
        let a = try Self.tokenizer.decode(tokens).to(.int64)
        let b = try deeper.decode(deeperTokens).to(.int64)
        #expect(try (a - b).abs().max().item() <= 1)  // float rounding only
        // The new blocks can learn: their first conv is random, only the second is zero.
        let parameters = Dictionary(uniqueKeysWithValues: deeper.namedParameters().map { ($0.name, $0.tensor) })
        let block = "decoder.levels.0.blocks.\(Self.small.resBlocks)"
        #expect(try parameters[block + ".conv1.weight"]!.abs().max().item() > 0)
        #expect(try parameters[block + ".conv2.weight"]!.abs().max().item() == 0)
    }

    @Test("a flat frame through per-frame group norm: two-channel groups keep only signs, one group keeps the colour")
    func flatFrameNormalisation() throws {
        // Two flat 16-channel frames whose channel pairs differ in the same direction: under
        // 8 groups of 2 both normalise to the same ±1 pattern, so what follows sees only a
        // 3⁸-colour palette of flat frames — why `norm_groups: 1` was measured (README: it
        // lost on real pictures and on saturated colours, so the default keeps 8).
        let first: [Float] = [1, 0, 2, 0, 0, 3, 1, 1, 5, -1, 0, 2, 2, 2, -3, 0]
        let second: [Float] = [3, 0, 1, 0, 0, 1, 4, 4, 2, -2, 0, 5, 0, 0, -1, 0]
        func frame(_ values: [Float]) throws -> Tensor {
            try Tensor(values, shape: [1, 16, 1, 1, 1]).expanded(to: [1, 16, 1, 4, 4]).contiguous()
        }
        let pairs = try FrameGroupNorm(groups: 8, channels: 16)
        let a = try pairs(frame(first)).scalars(as: Float.self)
        let b = try pairs(frame(second)).scalars(as: Float.self)
        #expect(zip(a, b).allSatisfy { abs($0 - $1) < 1e-3 })
        #expect(a.allSatisfy { abs(abs($0) - 1) < 1e-2 || abs($0) < 1e-3 })
        let whole = try FrameGroupNorm(groups: 1, channels: 16)
        let c = try whole(frame(first)).scalars(as: Float.self)
        let d = try whole(frame(second)).scalars(as: Float.self)
        #expect(zip(c, d).map { abs($0 - $1) }.max()! > 0.5)
    }

    @Test("the schedule of a 128² clip is 1, 2, 4, 6, 8; a 16:9 grid scales both sides")
    func schedules() {
        #expect(
            ScaleSchedule(height: 8, width: 8, sides: Self.small.scaleSides).description == "1×1, 2×2, 4×4, 6×6, 8×8")
        let wide = ScaleSchedule(height: 12, width: 21, sides: Self.small.scaleSides)
        #expect(wide.scales.first?.height == 1 && wide.scales.last == ScaleSchedule.Scale(height: 12, width: 21))
        #expect(zip(wide.scales, wide.scales.dropFirst()).allSatisfy { $0.width <= $1.width && $0.height <= $1.height })
    }

    @Test("causality: changing frame k never changes latents or tokens of earlier latent frames")
    func causality() throws {
        let video = try Self.video(frames: 17, height: 64, width: 64)
        var frames = try video.split(size: 1, dim: 0)
        frames[9] = try Self.video(frames: 1, height: 64, width: 64, seed: 99)  // latent frame 3 covers 9…12
        let changed = try Tensor.cat(frames, dim: 0)
        let a = try withoutGrad { try Self.tokenizer.features(video) }
        let b = try withoutGrad { try Self.tokenizer.features(changed) }
        #expect(try (a.slice(dim: 2, 0..<3) - b.slice(dim: 2, 0..<3)).abs().max().item() == 0)
        #expect(try (a.slice(dim: 2, 3..<5) - b.slice(dim: 2, 3..<5)).abs().max().item() > 0)
        let ta = try Self.tokenizer.encode(video), tb = try Self.tokenizer.encode(changed)
        #expect(
            try ta.bits.slice(dim: 0, 0..<3).equal(tb.bits.slice(dim: 0, 0..<3)).to(.int64).sum().item()
                == Double(3 * ta.schedule.tokensPerFrame * 8))
    }

    @Test("the first n latent frames of a clip's tokens are the tokens of its first 1 + 4(n − 1) frames")
    func prefixTokens() throws {
        // What a training query's `latent_frames` relies on: a window cut from stored tokens is a real shorter clip.
        let video = try Self.video(frames: 17, height: 64, width: 64)
        let whole = try Self.tokenizer.encode(video)
        for n in [1, 2, 3] {
            let short = try Self.tokenizer.encode(video.slice(dim: 0, 0..<(1 + 4 * (n - 1))).contiguous())
            #expect(short.bits.shape[0] == n)
            #expect(try short.bits.equal(whole.bits.slice(dim: 0, 0..<n)).to(.int64).sum().item() == Double(short.bitCount))
        }
    }

    @Test("chunked causal encoding gives the tokens of encoding the clip whole", arguments: [4, 8, 16])
    func chunked(chunk: Int) throws {
        let video = try Self.video(frames: 33, height: 64, width: 64)
        let whole = try Self.tokenizer.encode(video)
        let pieces = try Self.tokenizer.encode(video, chunkFrames: chunk)
        #expect(pieces.bits.shape == whole.bits.shape)
        let same = try pieces.bits.equal(whole.bits).to(.int64).sum().item()
        #expect(same == Double(whole.bitCount))
        let fa = try withoutGrad { try Self.tokenizer.features(video) }
        let cache = CausalCache()
        let fb = try withoutGrad {
            try Tensor.cat(
                [
                    Self.tokenizer.features(video.slice(dim: 0, 0..<(1 + chunk)), cache: cache),
                    Self.tokenizer.features(video.slice(dim: 0, (1 + chunk)..<33), cache: cache),
                ], dim: 2)
        }
        #expect(try (fa - fb).abs().max().item() < 1e-5)
    }

    @Test("an inflated image model encodes key frames only: the latents of the full 3-D pass, whole or in chunks")
    func keyFrameEncoding() throws {
        // An inflated image model: every kernel's past slices are zero (as in the shipped cpu-f8).
        var image = Self.small
        image.temporalKernel = 1
        let picture = try Tokenizer(configuration: image, logger: Self.logger)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("keyframes-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var inflated = Self.small
        inflated.temporalKernel = 3
        let video3D = try Tokenizer(configuration: inflated, logger: Self.logger)
        try picture.save(to: folder + "/picture.safetensors", trained: true)
        #expect(try video3D.warmStart(from: folder + "/picture.safetensors").isEmpty)
        #expect(video3D.encodesKeyFramesOnly)
        // A derived model, not parameters: checkpoints and the identity see only encoder and decoder.
        #expect(video3D.namedParameters().allSatisfy { $0.name.hasPrefix("encoder.") || $0.name.hasPrefix("decoder.") })
        #expect(!Self.tokenizer.encodesKeyFramesOnly)  // seeded 3-D kernels use every frame

        let clip = try Self.video(frames: 33, height: 64, width: 64, seed: 5)
        let fast = try withoutGrad { try video3D.features(clip) }
        let full = try withoutGrad { try video3D.features(clip, keyFrames: false) }
        #expect(fast.shape == full.shape)
        #expect(try (fast - full).abs().max().item() < 1e-4)
        // Only frames 0, 4, 8, … matter: changing the others changes nothing.
        let keys = try Tensor((0..<33).map { Int64($0 % 4 == 0 ? 1 : 0) }, shape: [33, 1, 1, 1]).to(.uint8)
        let others = try clip * keys
        #expect(try video3D.encode(others).bits.equal(video3D.encode(clip).bits).to(.int64).min().item() == 1)
        // Chunks keep the key-frame phase.
        let whole = try video3D.encode(clip)
        for chunk in [4, 8, 16] {
            let pieces = try video3D.encode(clip, chunkFrames: chunk)
            #expect(try pieces.bits.equal(whole.bits).to(.int64).min().item() == 1, "chunk \(chunk)")
        }
    }

    @Test(
        "picture levels: the finest levels see one frame each, yet every frame reaches the latents; chunks give the whole clip's tokens",
        arguments: [2, 4])  // 4: a picture level past the first temporal downsample
    func pictureLevels(levels: Int) throws {
        var layout = Self.small  // downsamples 2 and 3 halve time
        layout.encoderPictureLevels = levels
        let model = try Tokenizer(configuration: layout, logger: Self.logger)
        let kernels = Dictionary(uniqueKeysWithValues: model.namedParameters().map { ($0.name, $0.tensor.shape) })
        #expect(kernels["encoder.convIn.weight"]?[2] == 1)
        #expect(kernels["encoder.levels.1.blocks.0.conv2.weight"]?[2] == 1)
        #expect(kernels["encoder.levels.1.downsample.conv.weight"]?[2] == 1)  // spatial only
        #expect(kernels["encoder.levels.2.blocks.0.conv1.weight"]?[2] == (levels > 2 ? 1 : 3))
        #expect(kernels["encoder.levels.2.downsample.conv.weight"]?[2] == 3)  // temporal: always sees time
        #expect(kernels["encoder.levels.4.blocks.0.conv1.weight"]?[2] == 3)
        #expect(kernels["decoder.convIn.weight"]?[2] == 3)  // the decoder is unchanged
        #expect(!model.encodesKeyFramesOnly)

        // A frame between key frames 0 and 4 reaches latent frame 1 and nothing earlier.
        let clip = try Self.video(frames: 17, height: 64, width: 64, seed: 3)
        var frames = try clip.split(size: 1, dim: 0)
        frames[2] = try Self.video(frames: 1, height: 64, width: 64, seed: 77)
        let changed = try Tensor.cat(frames, dim: 0)
        let a = try withoutGrad { try model.features(clip) }
        let b = try withoutGrad { try model.features(changed) }
        #expect(try (a.slice(dim: 2, 0..<1) - b.slice(dim: 2, 0..<1)).abs().max().item() == 0)
        #expect(try (a.slice(dim: 2, 1..<2) - b.slice(dim: 2, 1..<2)).abs().max().item() > 0)

        let whole = try model.encode(clip)
        for chunk in [4, 8] {
            let pieces = try model.encode(clip, chunkFrames: chunk)
            #expect(try pieces.bits.equal(whole.bits).to(.int64).min().item() == 1, "chunk \(chunk)")
        }

        // Warm-started from a full 3-D checkpoint: the picture kernels take its current-frame slices.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("picture-levels-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try Self.tokenizer.save(to: folder.appendingPathComponent("full.safetensors").path, trained: true)
        #expect(try model.warmStart(from: folder.appendingPathComponent("full.safetensors").path).isEmpty)
        let full = Dictionary(uniqueKeysWithValues: Self.tokenizer.namedParameters().map { ($0.name, $0.tensor) })
        let warm = Dictionary(uniqueKeysWithValues: model.namedParameters().map { ($0.name, $0.tensor) })
        let cut = try full["encoder.convIn.weight"]!.slice(dim: 2, 2..<3)
        #expect(try (warm["encoder.convIn.weight"]! - cut).abs().max().item() == 0)

        // Run frame by frame (the picture levels before time is mixed), the same latents as one pass.
        let layers = Dictionary(uniqueKeysWithValues: model.namedParameters().map { ($0.name, $0.tensor) })
        let reference = try withoutGrad { () -> Tensor in
            // The same computation without the frame-by-frame split: a one-frame kernel on all frames.
            var h = try Tokenizer.normalize(clip)
            func conv(_ x: Tensor, _ name: String, stride: (Int, Int) = (1, 1)) throws -> Tensor {
                let w = layers[name + ".weight"]!
                let (kt, p) = (w.shape[2], w.shape[3] / 2)
                return try x.padded([p, p, p, p, kt - 1, 0]).conv3d(
                    weight: w, bias: layers[name + ".bias"], stride: [stride.0, stride.1, stride.1])
            }
            func norm(_ x: Tensor, _ name: String) throws -> Tensor {
                let s = x.shape
                return try x.permuted([0, 2, 1, 3, 4]).reshaped([s[0] * s[2], s[1], s[3], s[4]])
                    .groupNorm(groups: layout.normGroups, weight: layers[name + ".norm.weight"], bias: layers[name + ".norm.bias"])
                    .reshaped([s[0], s[2], s[1], s[3], s[4]]).permuted([0, 2, 1, 3, 4])
            }
            func block(_ x: Tensor, _ name: String) throws -> Tensor {
                var y = try conv(norm(x, name + ".norm1").silu(), name + ".conv1")
                y = try conv(norm(y, name + ".norm2").silu(), name + ".conv2")
                return try y + (layers[name + ".skip.weight"] == nil ? x : conv(x, name + ".skip"))
            }
            h = try conv(h, "encoder.convIn")
            for i in 0..<5 {
                h = try block(h, "encoder.levels.\(i).blocks.0")
                if i < 4 {
                    h = try conv(h, "encoder.levels.\(i).downsample.conv", stride: ([2, 3].contains(i) ? 2 : 1, 2))
                }
            }
            h = try block(block(h, "encoder.mid.0"), "encoder.mid.1")
            return try conv(norm(h, "encoder.normOut").silu(), "encoder.convOut")
        }
        #expect(try (reference - withoutGrad { try model.features(clip) }).abs().max().item() < 1e-4)

        layout.encoderPictureLevels = 5
        #expect(throws: TokenizerError.self) { try layout.validate() }
    }

    @Test("quantizer: the mean residual norm never grows over scales, and the bits rebuild the quantized latent")
    func quantizer() throws {
        let video = try Self.video(frames: 17, height: 128, width: 128)
        let latent = try withoutGrad { try Self.tokenizer.features(video) }
        let (output, schedule) = try withoutGrad { try Self.tokenizer.quantize(latent, measure: true) }
        #expect(output.residualNorms.count == schedule.scales.count + 1)
        for (before, after) in zip(output.residualNorms, output.residualNorms.dropFirst()) {
            #expect(after <= before + 1e-6, "\(output.residualNorms)")
        }
        #expect(output.residualNorms.last! < 0.8 * output.residualNorms.first!)
        // Σ upsampled codes == the quantized latent, and the TokenClip's bits give it back.
        let rebuilt = try Self.tokenizer._quantizer.dequantize(output.bits, schedule: schedule)
        #expect(try (rebuilt - output.quantized).abs().max().item() < 1e-5)
        let tokens = try Self.tokenizer.encode(video)
        let fromTokens = try Self.tokenizer.latent(of: tokens)  // [1, d, T′, H′, W′]
        let expected = try output.quantized.reshaped([1, 5, 8, 8, 8]).permuted([0, 2, 1, 3, 4])
        #expect(try (fromTokens - expected).abs().max().item() < 1e-5)
    }

    @Test("bits ↔ codes: each scale's bits are the signs of its residual, and read back per frame and scale")
    func bitsAndCodes() throws {
        let video = try Self.video(frames: 5, height: 64, width: 64)
        let tokens = try Self.tokenizer.encode(video)
        let latent = try withoutGrad { try Self.tokenizer.features(video) }
        let (output, _) = try withoutGrad { try Self.tokenizer.quantize(latent) }
        for k in tokens.schedule.scales.indices {
            for t in 0..<tokens.latentFrames {
                let fromClip = try tokens.bits(frame: t, scale: k)
                let fromQuantizer = try output.bits[k].select(dim: 0, t)
                #expect(try fromClip.equal(fromQuantizer).logicalNot().to(.int64).sum().item() == 0)
            }
        }
        // The first scale's bits are the signs of the frame's mean normalised feature.
        let mean = try output.normalized.mean(dims: [2, 3], keepDim: true)
        #expect(try mean.greater(0).to(.uint8).equal(output.bits[0]).logicalNot().to(.int64).sum().item() == 0)
    }

    @Test("gradients flow through the quantizer (straight-through)")
    func straightThrough() throws {
        let latent = try Tensor.randn([2, 8, 4, 4], generator: Generator(seed: 3)).requiringGrad()
        let schedule = ScaleSchedule(height: 4, width: 4, sides: [1, 2, 4])
        let output = try Self.tokenizer._quantizer.quantize(latent, schedule: schedule)
        try (output.quantized * output.quantized).sum().backward()
        let grad = try #require(latent.grad)
        #expect(try grad.abs().sum().item() > 0)
    }

    @Test("identity: a content hash that changes with weights; untrained outputs say so; checkpoints round-trip")
    func identityAndCheckpoint() throws {
        let a = Self.tokenizer.identity
        #expect(a.id.count == 16 && !a.trained)
        #expect(a.description.contains("UNTRAINED"))
        var other = Self.small
        other.seed = 12
        let b = try Tokenizer(configuration: other, logger: Self.logger).identity
        #expect(a.id != b.id)

        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tok-\(getpid()).safetensors").path
        try Self.tokenizer.save(to: path, trained: true)
        let loaded = try Tokenizer(checkpoint: path, logger: Self.logger)
        #expect(loaded.configuration == Self.small)
        #expect(loaded.identity.id == a.id)
        #expect(loaded.identity.trained)
        let video = try Self.video(frames: 5, height: 64, width: 64)
        let tokens = try loaded.encode(video)
        #expect(try tokens.bits.equal(Self.tokenizer.encode(video).bits).logicalNot().to(.int64).sum().item() == 0)
        #expect(throws: TokenizerError.self) {
            try Tokenizer(checkpoint: "/nonexistent.safetensors", logger: Self.logger)
        }
    }

    @Test("export: a float16 decoder under the float32 encoder — same tokens, same picture within a grey level")
    func export() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("export-\(getpid()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Self.tokenizer.export(to: path, name: "shared", recipe: "made in a test")
        let file = try SafeTensors.read(path)
        #expect(file.metadata[Tokenizer.recipeKey] == "made in a test")
        #expect(file.tensors.filter { $0.key.hasPrefix("decoder.") }.allSatisfy { $0.value.dtype == .float16 })
        #expect(file.tensors.filter { !$0.key.hasPrefix("decoder.") }.allSatisfy { $0.value.dtype == .float32 })
        let exported = try Tokenizer(checkpoint: path, logger: Self.logger)
        #expect(exported.configuration.name == "shared" && exported.identity.trained == Self.tokenizer.identity.trained)

        let video = try Self.video(frames: 5, height: 64, width: 64)
        let tokens = try Self.tokenizer.encode(video), exportedTokens = try exported.encode(video)
        #expect(try exportedTokens.bits.equal(tokens.bits).logicalNot().to(.int64).sum().item() == 0)
        let a = try Self.tokenizer.decode(tokens).to(.float32), b = try exported.decode(exportedTokens).to(.float32)
        #expect(try (a - b).abs().max().item() <= 1, "a float16 decoder moved a pixel by more than one grey level")
    }

    @Test("bad input is a clear error", arguments: [(16, 64, 64), (17, 60, 64), (5, 64, 48 + 8)])
    func badInput(frames: Int, height: Int, width: Int) throws {
        let video = try Tensor.zeros([frames, height, width, 3], dtype: .uint8)
        #expect(throws: TokenizerError.self) { try Self.tokenizer.encode(video) }
    }

    @Test("the shipped configs decode; cpu-small states the defaults", arguments: ["cpu-small", "paper"])
    func configs(name: String) throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let text = try String(
            contentsOf: root.appendingPathComponent("Configs/tokenizer/\(name).yaml"), encoding: .utf8)
        let configuration = try YAMLDecoder().decode(TokenizerConfiguration.self, from: text)
        try configuration.validate()
        #expect(configuration.name == name)
        if name == "cpu-small" { #expect(configuration == TokenizerConfiguration()) }
        #expect(configuration.spatialFactor == 16 && configuration.temporalFactor == 4)
        #expect(configuration.latentFrames(17) == 5)
        #expect(throws: (any Error).self) {
            try YAMLDecoder().decode(TokenizerConfiguration.self, from: "latent_dims: 8")
        }
    }
}
