import GRDB

/// A file seen in an ingest folder, and where it is in the pipeline.
public struct SourceRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "sources"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    public enum State: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible {
        /// Waiting to be processed (new, changed, or back after an interruption).
        case pending
        /// Being processed now.
        case processing
        /// Every clip is in a sealed shard (or it is an alias of a done source).
        case done
        /// A retryable failure (I/O); retried after `nextAttemptAt`, attempts capped.
        case failed
        /// A permanent refusal, with the reason ("no video stream", "truncated at 3.2 s").
        case rejected
        /// The file changed or disappeared; its clips are retired.
        case retired
    }

    public var id: Int64?
    public var path: String
    public var size: Int64
    public var mtime: Double
    public var contentHash: String?
    public var aliasOf: Int64?
    public var state: State
    public var errorCode: String?
    public var error: String?
    public var attempts: Int
    public var nextAttemptAt: Double?
    public var container: String?
    public var codec: String?
    public var width: Int?
    public var height: Int?
    public var duration: Double?
    public var fps: Double?
    public var frameCount: Int?
    public var hasAudio: Bool?
    public var createdAt: Double
    public var updatedAt: Double
    /// Times the process died of a fatal signal while processing this source.
    public var crashes: Int = 0
    /// Times the process died otherwise (kill -9, the OOM killer) while processing it.
    public var interruptions: Int = 0

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// A tokenizer whose tokens the catalog holds.
public struct TokenizerRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "tokenizers"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase
    public var id: String
    public var name: String
    public var config: String
    public var trained: Bool
    public var createdAt: Double
    /// The safetensors checkpoint holding the weights (nil: the seeded initialisation, rebuilt from `config`).
    public var weightsPath: String?

    public init(id: String, name: String, config: String, trained: Bool, createdAt: Double, weightsPath: String? = nil)
    {
        self.id = id
        self.name = name
        self.config = config
        self.trained = trained
        self.createdAt = createdAt
        self.weightsPath = weightsPath
    }
}

/// A sealed shard file: clips of one bucket and tokenizer.
public struct ShardRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "shards"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase
    public var id: Int64?
    /// Relative to the data folder.
    public var path: String
    public var bucket: String
    public var size: Int
    public var aspect: String
    public var width: Int
    public var height: Int
    public var frames: Int
    public var fps: Double
    public var tokenizerId: String
    public var duration: Double
    public var clipCount: Int
    public var liveClips: Int
    public var liveTokens: Int
    public var liveSeconds: Double
    public var bytes: Int64
    public var sha256: String
    public var state: String
    public var createdAt: Double

    public init(
        path: String, bucket: String, size: Int, aspect: String, width: Int, height: Int, frames: Int, fps: Double,
        tokenizerId: String, clipCount: Int, bytes: Int64, sha256: String, createdAt: Double
    ) {
        self.path = path
        self.bucket = bucket
        self.size = size
        self.aspect = aspect
        self.width = width
        self.height = height
        self.frames = frames
        self.fps = fps
        self.tokenizerId = tokenizerId
        self.duration = Double(frames) / fps
        self.clipCount = clipCount
        self.liveClips = 0
        self.liveTokens = 0
        self.liveSeconds = 0
        self.bytes = bytes
        self.sha256 = sha256
        self.state = "sealed"
        self.createdAt = createdAt
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// One clip: where it came from, its shape and times, and where its tokens are.
public struct ClipRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "clips"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase
    public var id: Int64
    public var sourceId: Int64
    public var bucket: String
    public var size: Int
    public var width: Int
    public var height: Int
    public var aspect: String
    public var frames: Int
    public var fps: Double
    public var clipIndex: Int
    public var startTime: Double
    public var endTime: Double
    public var duration: Double
    public var tokens: Int
    public var shardId: Int64
    public var row: Int
    public var retired: Bool
    /// Curation scores (nil for clips cut before curation): see `ClipQuality`.
    public var motion: Double?
    public var black: Double?
    public var detail: Double?
    /// The 64-bit perceptual hash (bit pattern) and its four 16-bit bands, indexed for lookup.
    public var phash: Int64?
    public var hashBand0: Int?
    public var hashBand1: Int?
    public var hashBand2: Int?
    public var hashBand3: Int?
    public var singleShot: Bool?
    /// The earlier clip (of another source, same bucket) this one nearly duplicates.
    public var duplicateOf: Int64?

    public init(
        id: Int64, sourceId: Int64, bucket: String, size: Int, width: Int, height: Int, aspect: String, frames: Int,
        fps: Double, clipIndex: Int, startTime: Double, endTime: Double, tokens: Int, shardId: Int64 = 0, row: Int
    ) {
        self.id = id
        self.sourceId = sourceId
        self.bucket = bucket
        self.size = size
        self.width = width
        self.height = height
        self.aspect = aspect
        self.frames = frames
        self.fps = fps
        self.clipIndex = clipIndex
        self.startTime = startTime
        self.endTime = endTime
        self.duration = endTime - startTime
        self.tokens = tokens
        self.shardId = shardId
        self.row = row
        self.retired = false
    }

    /// Sets the curation scores, the hash and its bands.
    public mutating func setCuration(motion: Double, black: Double, detail: Double, hash: UInt64, singleShot: Bool) {
        self.motion = motion
        self.black = black
        self.detail = detail
        self.phash = Int64(bitPattern: hash)
        let bands = NearDuplicateIndex.bands(of: hash)
        (hashBand0, hashBand1, hashBand2, hashBand3) = (bands[0], bands[1], bands[2], bands[3])
        self.singleShot = singleShot
    }
}
