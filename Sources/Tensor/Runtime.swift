import CTorch
import Foundation

/// Process-wide LibTorch settings.
public enum Torch {
    /// Intra-op threads. LibTorch's default here is 1 of 2 cores, so set it explicitly.
    public static var threads: Int {
        get { Int(ctorch_get_num_threads()) }
        set { ctorch_set_num_threads(Int32(max(1, newValue))) }
    }

    /// Cores available to this process.
    public static var availableCores: Int { ProcessInfo.processInfo.activeProcessorCount }

    /// "1.13.0".
    public static var version: String { String(cString: ctorch_version()) }

    /// LibTorch's build configuration text.
    public static var buildConfiguration: String {
        guard let text = ctorch_config() else { return "" }
        defer { ctorch_free_string(text) }
        return String(cString: text)
    }

    /// The BLAS implementation actually loaded, e.g. "OpenBLAS (…/openblas-pthread/libopenblasp-r0.3.21.so)".
    /// Debian's LibTorch uses whatever libblas.so.3 points at; the reference BLAS is ~30× slower.
    public static var blasLibrary: String {
        // /proc files report size 0, so read them line by line rather than by size.
        guard let file = fopen("/proc/self/maps", "r") else { return "unknown" }
        defer { fclose(file) }
        var paths: [String] = []
        var line: UnsafeMutablePointer<CChar>? = nil
        var capacity = 0
        while getline(&line, &capacity, file) > 0, let line {
            let text = String(cString: line).trimmingCharacters(in: .whitespacesAndNewlines)
            guard let path = text.split(separator: " ", omittingEmptySubsequences: true).last, path.hasPrefix("/")
            else { continue }
            let name = path.split(separator: "/").last.map(String.init) ?? ""
            if ["libopenblas", "libblas", "libmkl", "libblis"].contains(where: name.hasPrefix),
                !paths.contains(String(path))
            {
                paths.append(String(path))
            }
        }
        free(line)
        if let openblas = paths.first(where: { $0.contains("openblas") }) { return "OpenBLAS (\(openblas))" }
        if let mkl = paths.first(where: { $0.contains("mkl") }) { return "MKL (\(mkl))" }
        if let blis = paths.first(where: { $0.contains("blis") }) { return "BLIS (\(blis))" }
        if let other = paths.first { return "reference or unknown BLAS (\(other)); install libopenblas0-pthread" }
        return "none loaded yet"
    }

    /// Tells glibc to serve blocks up to 32 MB from the heap and to keep up to 1 GB of freed heap
    /// instead of returning it. LibTorch allocates and frees the same large activations every
    /// training step, and with glibc's defaults many come back as fresh pages to zero-fill
    /// (`videoar bench train`, 12 steps: 965 k page faults before, 711 k after). A process-wide
    /// setting, so programs call it once at start, as they set the thread count.
    public static func retainFreedMemory() {
        ctorch_retain_freed_memory()
    }

    /// Seeds LibTorch's global generator (prefer explicit `Generator`s).
    public static func manualSeed(_ seed: UInt64) { ctorch_manual_seed(seed) }

    /// Whether operations are recorded for autograd on this thread.
    public static var isGradEnabled: Bool { ctorch_is_grad_enabled() }
}

/// Runs `body` without recording operations for autograd (evaluation, weight updates).
public func withoutGrad<R>(_ body: () throws -> R) rethrows -> R {
    let previous = ctorch_set_grad_enabled(false)
    defer { _ = ctorch_set_grad_enabled(previous) }
    return try body()
}

/// A random-number generator with an explicit seed: the same seed gives the same numbers.
public final class Generator: @unchecked Sendable {
    let handle: OpaquePointer

    public init(seed: UInt64) {
        handle = ctorch_generator_new(seed)!
    }

    deinit { ctorch_generator_free(handle) }

    /// The generator's full state, for resumable training.
    public var state: [UInt8] {
        get {
            let n = Int(ctorch_generator_get_state(handle, nil, 0))
            var bytes = [UInt8](repeating: 0, count: max(n, 0))
            _ = bytes.withUnsafeMutableBytes { ctorch_generator_get_state(handle, $0.baseAddress, Int64($0.count)) }
            return bytes
        }
    }

    public func restore(_ state: [UInt8]) throws {
        let rc = state.withUnsafeBytes { ctorch_generator_set_state(handle, $0.baseAddress, Int64($0.count)) }
        guard rc == 0 else { throw TorchError.last("restoring a generator state") }
    }
}
