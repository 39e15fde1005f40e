import ConfigCoding
import Tokenizer
import VideoIO
import Diagnostics

/// Everything `videoar serve` and `videoar ingest` need. Every key has a default, so no
/// configuration at all serves `./ingest` into `./data`. See Configs/daemon.yaml.
public struct IngestConfiguration: Sendable, ConfigurationSection, Equatable {
    /// Folders watched (recursively) for new videos and images.
    public var ingestFolders: [String]
    /// Where the catalog (catalog.sqlite) and the shards (shards/…) live.
    public var dataFolder: String
    /// Clip shape, buckets and safety caps.
    public var video: VideoIOConfiguration
    /// The tokenizer: a checkpoint, or a layout for the seeded (untrained) initialisation.
    public var tokenizer: TokenizerSelection
    /// LibTorch intra-op threads; 0 means all cores.
    public var threads: Int
    public var shards: ShardPolicy
    public var retry: RetryPolicy
    public var watch: WatchPolicy
    /// Which clips are worth keeping: dead-content thresholds and near-duplicate marking.
    public var curation: CurationPolicy

    /// Thresholds on the scores `ClipReader` measures per clip (see `ClipQuality`). A clip
    /// below one is not tokenized; `status` counts it under its reason. Stills are never
    /// dropped for lack of motion.
    public struct CurationPolicy: Sendable, ConfigurationSection, Equatable {
        /// Smallest mean frame difference (grey levels 0–255) a clip keeps; a frozen stretch
        /// scores ~0, a still camera on a calm scene ~0.5–2. 0 keeps everything.
        public var minMotion: Double
        /// Largest share of black or single-colour frames a clip keeps (1 keeps everything).
        public var maxBlack: Double
        /// Smallest detail score (mean neighbour difference of the 64² thumbnail) a clip keeps;
        /// 0 keeps everything.
        public var minDetail: Double
        /// Clips whose perceptual hash is within this many bits (of 64) of an earlier clip of
        /// another source are marked its near-duplicates (still stored; `query
        /// --no-near-duplicates` leaves them out). Nil turns the lookup off.
        public var duplicateRadius: Int?
        /// The largest radius the catalog's lookup supports (`NearDuplicateIndex.maxRadius`; this
        /// module is also built without the catalog, for the configuration fuzzer).
        public static let maxDuplicateRadius = 11

        public init(minMotion: Double = 0.1, maxBlack: Double = 0.5, minDetail: Double = 0, duplicateRadius: Int? = 6) {
            self.minMotion = minMotion
            self.maxBlack = maxBlack
            self.minDetail = minDetail
            self.duplicateRadius = duplicateRadius
        }
        public static var defaults: Self { Self() }
        public static var keys: [ConfigurationKey<Self>] {
            [
                .init("min_motion", \.minMotion), .init("max_black", \.maxBlack), .init("min_detail", \.minDetail),
                .init("duplicate_radius", \.duplicateRadius),
            ]
        }

        /// Why `quality` is dropped (nil: kept). `frames` > 1 for a video clip.
        public func dropReason(_ quality: ClipQuality, frames: Int) -> DropReason? {
            if quality.blackFraction > maxBlack { return .black }  // a black stretch is also motionless: say black
            if frames > 1, quality.motion < minMotion { return .static }
            if quality.detail < minDetail { return .blurry }
            return nil
        }

        public enum DropReason: String, Sendable, CaseIterable { case `static`, black, blurry }
    }

    /// How the daemon decides a file is complete, and how often it looks again.
    public struct WatchPolicy: Sendable, ConfigurationSection, Equatable {
        /// A file is picked up once its size and mtime have not changed for this long.
        public var stableSeconds: Double
        /// Full rescan of the ingest folders (a safety net for lost inotify events, network filesystems).
        public var rescanSeconds: Double
        /// Open shards are sealed after this long without new clips, so sources complete.
        public var idleSealSeconds: Double
        public init(stableSeconds: Double = 5, rescanSeconds: Double = 60, idleSealSeconds: Double = 30) {
            self.stableSeconds = stableSeconds
            self.rescanSeconds = rescanSeconds
            self.idleSealSeconds = idleSealSeconds
        }
        public static var defaults: Self { Self() }
        public static var keys: [ConfigurationKey<Self>] {
            [
                .init("stable_seconds", \.stableSeconds), .init("rescan_seconds", \.rescanSeconds),
                .init("idle_seal_seconds", \.idleSealSeconds),
            ]
        }
    }

    public struct TokenizerSelection: Sendable, ConfigurationSection, Equatable {
        public var checkpoint: String?
        public var config: String?
        /// On start, the daemon re-queues every done source this tokenizer has no tokens for
        /// (a new default tokenizer makes the old shards stale; they stay until `videoar gc`).
        public var retokenize: Bool
        public init(checkpoint: String? = nil, config: String? = nil, retokenize: Bool = true) {
            self.checkpoint = checkpoint
            self.config = config
            self.retokenize = retokenize
        }
        public static var defaults: Self { Self() }
        public static var keys: [ConfigurationKey<Self>] {
            [.init("checkpoint", \.checkpoint), .init("config", \.config), .init("retokenize", \.retokenize)]
        }
    }

    /// When an open shard is sealed.
    public struct ShardPolicy: Sendable, ConfigurationSection, Equatable {
        public var maxBytes: Int
        public var maxClips: Int
        public init(maxBytes: Int = 64 << 20, maxClips: Int = 4096) {
            self.maxBytes = maxBytes
            self.maxClips = maxClips
        }
        public static var defaults: Self { Self() }
        public static var keys: [ConfigurationKey<Self>] {
            [.init("max_bytes", \.maxBytes), .init("max_clips", \.maxClips)]
        }
    }

    /// Retryable (I/O) failures: attempts capped, exponential backoff. And files the process
    /// died on: retried, but not forever.
    public struct RetryPolicy: Sendable, ConfigurationSection, Equatable {
        public var maxAttempts: Int
        public var backoffSeconds: Double
        /// A file is rejected once the process crashed this many times on it (a fatal signal:
        /// a decoder abort or segfault).
        public var maxCrashes: Int
        /// A file is rejected once the process was killed this many times while on it (kill -9,
        /// the OOM killer): a larger bound, since an operator's kill is no fault of the file.
        public var maxInterruptions: Int
        public init(maxAttempts: Int = 5, backoffSeconds: Double = 30, maxCrashes: Int = 3, maxInterruptions: Int = 10)
        {
            self.maxAttempts = maxAttempts
            self.backoffSeconds = backoffSeconds
            self.maxCrashes = maxCrashes
            self.maxInterruptions = maxInterruptions
        }
        public static var defaults: Self { Self() }
        public static var keys: [ConfigurationKey<Self>] {
            [
                .init("max_attempts", \.maxAttempts), .init("backoff_seconds", \.backoffSeconds),
                .init("max_crashes", \.maxCrashes),
                .init("max_interruptions", \.maxInterruptions),
            ]
        }
    }

    /// The daemon's clip defaults: 8 fps, 17 frames, buckets 128 and 256 (512 is slow on a CPU).
    public static let defaultVideo: VideoIOConfiguration = {
        var video = VideoIOConfiguration()
        video.clips.buckets.sizes = [128, 256]
        return video
    }()

    public init(
        ingestFolders: [String] = ["./ingest"], dataFolder: String = "./data",
        video: VideoIOConfiguration = IngestConfiguration.defaultVideo,
        tokenizer: TokenizerSelection = TokenizerSelection(), threads: Int = 0,
        shards: ShardPolicy = ShardPolicy(), retry: RetryPolicy = RetryPolicy(), watch: WatchPolicy = WatchPolicy(),
        curation: CurationPolicy = CurationPolicy()
    ) {
        self.ingestFolders = ingestFolders
        self.dataFolder = dataFolder
        self.video = video
        self.tokenizer = tokenizer
        self.threads = threads
        self.shards = shards
        self.retry = retry
        self.watch = watch
        self.curation = curation
    }

    public static var defaults: Self { Self() }
    public static var keys: [ConfigurationKey<Self>] {
        [
            .init("ingest_folders", \.ingestFolders), .init("data_folder", \.dataFolder), .init("video", \.video),
            .init("tokenizer", \.tokenizer), .init("threads", \.threads), .init("shards", \.shards),
            .init("retry", \.retry),
            .init("watch", \.watch), .init("curation", \.curation),
        ]
    }

    /// Checks every value; the message names the key.
    public func validate() throws {
        func fail(_ m: String) -> IngestError { IngestError(.configuration, m) }
        guard !ingestFolders.isEmpty else { throw fail("ingest_folders must list at least one folder") }
        guard !dataFolder.isEmpty else { throw fail("data_folder must not be empty") }
        guard threads >= 0 else { throw fail("threads must be 0 (all cores) or more") }
        guard shards.maxBytes >= 1024, shards.maxClips >= 1 else {
            throw fail("shards.max_bytes must be ≥ 1024 and shards.max_clips ≥ 1")
        }
        guard retry.maxAttempts >= 1, retry.backoffSeconds >= 0 else {
            throw fail("retry.max_attempts must be ≥ 1 and retry.backoff_seconds ≥ 0")
        }
        guard retry.maxCrashes >= 1, retry.maxInterruptions >= 1 else {
            throw fail("retry.max_crashes and retry.max_interruptions must be ≥ 1")
        }
        guard watch.stableSeconds >= 0, watch.rescanSeconds > 0, watch.idleSealSeconds >= 0 else {
            throw fail("watch.stable_seconds and watch.idle_seal_seconds must be ≥ 0, watch.rescan_seconds > 0")
        }
        guard curation.minMotion >= 0, (0...1).contains(curation.maxBlack), curation.minDetail >= 0 else {
            throw fail("curation.min_motion and curation.min_detail must be ≥ 0, curation.max_black in 0…1")
        }
        if let radius = curation.duplicateRadius, !(0...CurationPolicy.maxDuplicateRadius).contains(radius) {
            throw fail(
                "curation.duplicate_radius must be 0…\(CurationPolicy.maxDuplicateRadius) bits (or null to turn it off), got \(radius)"
            )
        }
        do { try video.validate() } catch let error as VideoIOError { throw fail("video.\(error.message)") }
    }

    public var catalogPath: String { dataFolder + "/catalog.sqlite" }
    public var shardFolder: String { dataFolder + "/shards" }
}

/// An ingest failure: `IngestErrorCode`, a message, the cause.
public typealias IngestError = ModuleError<IngestErrorCode>

public enum IngestErrorCode: String, Sendable {
    case configuration, io, pipeline
    /// Another process writes the data folder.
    case busy
    /// Removing shards would leave sources with no tokens at all.
    case stranding
    /// A shard could not be written (disk full, I/O error): its sources are retried.
    case seal
}
