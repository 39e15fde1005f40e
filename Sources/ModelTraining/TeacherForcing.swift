import Model
import Tensor
import TokenFormat
import TrainingRun

/// Inputs and targets of one training batch (method §3–§4), built from the shard bits.
///
/// Frame by frame and scale by scale it keeps the running sum of codes the model would have
/// built: scale k's input is that sum downsampled; its target is the clean bits while nothing
/// has been flipped in the frame, otherwise the re-quantized residual of the clean latent
/// minus the (corrupted) sum — the bits that would correct the mistake. The bits that enter
/// the sum are the target with a share `ratio[b][t][k]` flipped. Frame t + 1 starts from
/// frame t's corrupted sum, which is how errors carry across frames (CFEC).
struct TeacherForcing {
    let codes: MultiScaleCodes

    struct Output {
        /// [B, L, d] float input features (the start block's rows are zero and ignored).
        var inputs: Tensor
        /// [B, L, d] float 0/1 targets.
        var targets: Tensor
        /// Share of input bits actually flipped.
        var flipped: Double
    }

    /// bits: uint8 [B, T′, L_f, d]; ratios: [B][T′][K] flip ratios (nil: no corruption).
    func callAsFunction(bits: Tensor, ratios: [[[Double]]]?, generator: Generator) throws -> Output {
        let s = bits.shape
        let (b, frames, d) = (s[0], s[1], s[3])
        let k = codes.schedule.scales.count
        let next = NextScaleInputs(codes: codes)
        var inputs: [Tensor] = []
        var targets: [Tensor] = []
        var flips = 0.0, total = 0.0
        var previous: Tensor? = nil  // frame t − 1's running sum [B, d, H, W]
        for t in 0..<frames {
            let frameBits = try bits.select(dim: 1, t)  // [B, L_f, d]
            let clean = try (0..<k).map { scale in
                let start = codes.schedule.offsets[scale]
                let tokens = try frameBits.slice(dim: 1, start..<(start + codes.schedule.scales[scale].tokens))
                return try codes.grid(tokens: tokens, scale: scale)  // [B, d, h, w] uint8
            }
            let latent: Tensor? = try ratios.map { _ in try codes.latent(clean) }  // the clean f̂_t
            var sum: Tensor? = nil
            var corrupted: Tensor? = nil  // [B, 1, 1, 1] bool: a flip happened earlier in this frame
            for scale in 0..<k {
                // Input.
                let n = codes.schedule.scales[scale].tokens
                if scale == 0 {
                    if let previous {
                        inputs.append(try next.input(runningSum: previous, scale: 0))
                    } else {
                        inputs.append(try Tensor.zeros([b, n, d]))
                    }
                } else {
                    inputs.append(try next.input(runningSum: sum!, scale: scale))
                }
                // Target: clean, or re-quantized after a flip.
                var target = clean[scale]
                if let latent, let corrupted, let sum {
                    let corrected = try codes.quantize(residual: latent - sum, scale: scale)
                    target = try target.replacing(where: corrupted.expanded(to: target.shape), with: corrected)
                }
                targets.append(try codes.tokens(grid: target))
                // The bits that enter the running sum.
                var used = target
                if let ratios {
                    let p = try Tensor(ratios.map { Float($0[t][scale]) }, shape: [b, 1, 1, 1])
                    let draw = try Tensor.rand(target.shape, generator: generator)
                    let mask = try (draw - p).less(0)  // [B, d, h, w] bool, true with probability p
                    used = try target.replacing(where: mask, with: (1 - target.to(.float32)).to(.uint8))
                    let perSample = try mask.to(.float32).sum(dims: [1, 2, 3], keepDim: true).greater(0)
                    corrupted =
                        try corrupted.map { try ($0.to(.float32) + perSample.to(.float32)).greater(0) } ?? perSample
                    flips += try mask.to(.float32).sum().item()
                    total += Double(mask.count)
                }
                sum = try next.accumulate(sum, bits: used, scale: scale)
            }
            previous = sum
        }
        return Output(
            inputs: try Tensor.cat(inputs, dim: 1), targets: try Tensor.cat(targets, dim: 1).to(.float32),
            flipped: total > 0 ? flips / total : 0)
    }
}

extension ModelTrainingConfiguration.Corruption {
    /// Flip ratios [B][T′][K]: U(min + δt, max + δt) per scale, scale 0 of frame t > 0 from
    /// U(previous frame's last ratio, max + δt) when inheriting (CFEC).
    func ratios(batch: Int, frames: Int, scales: Int, using rng: inout SplitMix64) -> [[[Double]]] {
        (0..<batch).map { _ in
            var last: Double? = nil
            return (0..<frames).map { t in
                let high = maxRatio + perFrame * Double(t)
                let low = minRatio + perFrame * Double(t)
                let row = (0..<scales).map { k -> Double in
                    let from = (k == 0 && inherit) ? (last ?? low) : low
                    return from >= high ? from : from + (high - from) * rng.unit()
                }
                last = row.last
                return row
            }
        }
    }
}

extension ModelTrainingConfiguration.FrameMask {
    /// visible[b][t][t′]: whether frame t may attend to earlier frame t′ (method §4).
    func draw(batch: Int, frames: Int, using rng: inout SplitMix64) -> [[[Bool]]] {
        (0..<batch).map { _ in
            let kept = (0..<frames).map { _ in rng.unit() >= probability }
            return (0..<frames).map { t in
                (0..<frames).map { past in past < t && (window == 0 || past >= t - window) && kept[past] }
            }
        }
    }
}
