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
        shards: ShardPolicy = ShardPolicy(), retry: RetryPolicy = RetryPolicy(), watch: WatchPolicy = WatchPolicy()
    ) {
        self.ingestFolders = ingestFolders
        self.dataFolder = dataFolder
        self.video = video
        self.tokenizer = tokenizer
        self.threads = threads
        self.shards = shards
        self.retry = retry
        self.watch = watch
    }

    public static var defaults: Self { Self() }
    public static var keys: [ConfigurationKey<Self>] {
        [
            .init("ingest_folders", \.ingestFolders), .init("data_folder", \.dataFolder), .init("video", \.video),
            .init("tokenizer", \.tokenizer), .init("threads", \.threads), .init("shards", \.shards),
            .init("retry", \.retry),
            .init("watch", \.watch),
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
}
