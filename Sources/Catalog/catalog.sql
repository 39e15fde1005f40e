-- The VideoAR catalog: the single source of truth for resume, dedup and what is trainable.
-- Applied by Sources/Catalog/Catalog.swift: each "-- migration: NAME" section runs once,
-- in order, inside one transaction. Never edit a released section; append a new one.

-- migration: v1
CREATE TABLE tokenizers (
    id          TEXT PRIMARY KEY,              -- content hash of configuration + weights
    name        TEXT NOT NULL,
    config      TEXT NOT NULL,                 -- the configuration as JSON
    trained     INTEGER NOT NULL,              -- 0: seeded initialisation (tokens are noise)
    created_at  REAL NOT NULL
);

CREATE TABLE sources (
    id              INTEGER PRIMARY KEY,
    path            TEXT NOT NULL UNIQUE,
    size            INTEGER NOT NULL,
    mtime           REAL NOT NULL,
    content_hash    TEXT,                      -- SHA-256 hex of the bytes, once read
    alias_of        INTEGER REFERENCES sources(id),   -- same bytes as that source: no clips of its own
    state           TEXT NOT NULL CHECK (state IN ('pending', 'processing', 'done', 'failed', 'rejected', 'retired')),
    error_code      TEXT,
    error           TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL,                      -- failed sources wait until then (backoff)
    container       TEXT,
    codec           TEXT,
    width           INTEGER,
    height          INTEGER,
    duration        REAL,
    fps             REAL,
    frame_count     INTEGER,
    has_audio       INTEGER,
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL
);
CREATE INDEX sources_by_state ON sources(state, next_attempt_at);
CREATE INDEX sources_by_hash ON sources(content_hash);

CREATE TABLE captions (
    id          INTEGER PRIMARY KEY,
    source_id   INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    text        TEXT NOT NULL,
    origin      TEXT NOT NULL,                 -- e.g. "sidecar:clip.txt", "manifest:captions.jsonl"
    UNIQUE (source_id, origin, text)
);
CREATE VIRTUAL TABLE captions_fts USING fts5(text, content = 'captions', content_rowid = 'id');
CREATE TRIGGER captions_fts_insert AFTER INSERT ON captions BEGIN
    INSERT INTO captions_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER captions_fts_delete AFTER DELETE ON captions BEGIN
    INSERT INTO captions_fts(captions_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;

CREATE TABLE shards (
    id            INTEGER PRIMARY KEY,
    path          TEXT NOT NULL UNIQUE,        -- relative to the data folder
    bucket        TEXT NOT NULL,               -- e.g. "256-16x9-336x192"
    size          INTEGER NOT NULL,            -- the bucket's √(H·W): 128, 256, 512
    aspect        TEXT NOT NULL,               -- "16:9"
    width         INTEGER NOT NULL,
    height        INTEGER NOT NULL,
    frames        INTEGER NOT NULL,
    fps           REAL NOT NULL,
    tokenizer_id  TEXT NOT NULL REFERENCES tokenizers(id),
    duration      REAL NOT NULL,               -- every clip's duration: frames / fps
    clip_count    INTEGER NOT NULL,
    live_clips    INTEGER NOT NULL,            -- clips not retired (the query totals sum these)
    live_tokens   INTEGER NOT NULL,
    live_seconds  REAL NOT NULL,
    bytes         INTEGER NOT NULL,
    sha256        TEXT NOT NULL,               -- of the whole file
    state         TEXT NOT NULL CHECK (state IN ('sealed', 'retired')),
    created_at    REAL NOT NULL
);
CREATE INDEX shards_by_bucket ON shards(size, frames, state);

-- Live clips per (shard, source): query totals with a caption filter sum these rows
-- instead of scanning clips, so totals stay fast at 10^6 clips.
CREATE TABLE shard_sources (
    shard_id   INTEGER NOT NULL REFERENCES shards(id),
    source_id  INTEGER NOT NULL REFERENCES sources(id),
    clips      INTEGER NOT NULL,
    tokens     INTEGER NOT NULL,
    seconds    REAL NOT NULL,
    PRIMARY KEY (shard_id, source_id)
) WITHOUT ROWID;
CREATE INDEX shard_sources_by_source ON shard_sources(source_id);

CREATE TABLE clips (
    id            INTEGER PRIMARY KEY,         -- stable: hash of (content, bucket, frames, fps, index, tokenizer)
    source_id     INTEGER NOT NULL REFERENCES sources(id),
    bucket        TEXT NOT NULL,
    size          INTEGER NOT NULL,
    width         INTEGER NOT NULL,
    height        INTEGER NOT NULL,
    aspect        TEXT NOT NULL,               -- "16:9"
    frames        INTEGER NOT NULL,
    fps           REAL NOT NULL,
    clip_index    INTEGER NOT NULL,            -- position among the source's clips in this bucket
    start_time    REAL NOT NULL,
    end_time      REAL NOT NULL,
    duration      REAL NOT NULL,
    tokens        INTEGER NOT NULL,
    shard_id      INTEGER NOT NULL REFERENCES shards(id),
    row           INTEGER NOT NULL,            -- row in the shard's tensors
    retired       INTEGER NOT NULL DEFAULT 0,  -- 1 once its source changed or was removed
    UNIQUE (shard_id, row)
);
-- The query command's filters: size, frames, duration, aspect; live clips only.
CREATE INDEX clips_by_size ON clips(size, frames, duration) WHERE retired = 0;
CREATE INDEX clips_by_frames ON clips(frames, duration) WHERE retired = 0;
CREATE INDEX clips_by_aspect ON clips(aspect, duration) WHERE retired = 0;
CREATE INDEX clips_by_source ON clips(source_id);

-- migration: v2
-- A source the process died on while processing it (see Catalog.recoverInterrupted): a
-- crash is a fatal signal recorded by the crash recorder (the decoder aborted, a segfault);
-- an interruption is any other death (kill -9, the OOM killer, power). Both are bounded, so
-- a file that kills the process is rejected instead of killing it forever.
ALTER TABLE sources ADD COLUMN crashes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sources ADD COLUMN interruptions INTEGER NOT NULL DEFAULT 0;

-- migration: v3
-- Where each tokenizer's weights live (absolute path of the safetensors checkpoint; NULL for
-- the seeded initialisation), so a shard can always be decoded back to pixels.
ALTER TABLE tokenizers ADD COLUMN weights_path TEXT;

-- migration: v4
-- Which tokenizers each source is complete for: written in the transaction that marks it done.
-- A new default tokenizer makes every source without its row "lacking tokens": `videoar
-- retokenize` (or the daemon) re-queues those from their files, while their old shards stay.
CREATE TABLE source_tokenizers (
    source_id     INTEGER NOT NULL REFERENCES sources(id),
    tokenizer_id  TEXT NOT NULL,
    PRIMARY KEY (source_id, tokenizer_id)
) WITHOUT ROWID;
CREATE INDEX source_tokenizers_by_tokenizer ON source_tokenizers(tokenizer_id);
-- Before v4 a done source had live clips of exactly the tokenizer that finished it.
INSERT OR IGNORE INTO source_tokenizers (source_id, tokenizer_id)
    SELECT DISTINCT c.source_id, h.tokenizer_id FROM clips c JOIN shards h ON h.id = c.shard_id
    JOIN sources s ON s.id = c.source_id WHERE c.retired = 0 AND s.state = 'done';

-- migration: v5
-- Curation: each clip's scores (NULL for clips cut before curation existed). `phash` is a 64-bit
-- perceptual hash; its four 16-bit bands are indexed (with the hash: the index alone answers
-- the distance) so a near-duplicate lookup reads a few index entries at 10^6 clips (any two
-- hashes within 4·k+3 bits share a band within k bits).
ALTER TABLE clips ADD COLUMN motion REAL;                 -- mean |frame difference|, grey levels
ALTER TABLE clips ADD COLUMN black REAL;                  -- share of black (or any single-colour) frames
ALTER TABLE clips ADD COLUMN detail REAL;                 -- mean neighbour difference: low = blurred/empty
ALTER TABLE clips ADD COLUMN phash INTEGER;
ALTER TABLE clips ADD COLUMN hash_band0 INTEGER;
ALTER TABLE clips ADD COLUMN hash_band1 INTEGER;
ALTER TABLE clips ADD COLUMN hash_band2 INTEGER;
ALTER TABLE clips ADD COLUMN hash_band3 INTEGER;
ALTER TABLE clips ADD COLUMN single_shot INTEGER;         -- 0: spans a detected cut (split_at_cuts off)
ALTER TABLE clips ADD COLUMN duplicate_of INTEGER;        -- a near-duplicate of this earlier clip
CREATE INDEX clips_by_hash_band0 ON clips(hash_band0, phash) WHERE hash_band0 IS NOT NULL;
CREATE INDEX clips_by_hash_band1 ON clips(hash_band1, phash) WHERE hash_band1 IS NOT NULL;
CREATE INDEX clips_by_hash_band2 ON clips(hash_band2, phash) WHERE hash_band2 IS NOT NULL;
CREATE INDEX clips_by_hash_band3 ON clips(hash_band3, phash) WHERE hash_band3 IS NOT NULL;

-- What curation found in a source: its hard cuts and the clips the thresholds dropped, by
-- reason. Replaced each time the source is processed.
CREATE TABLE source_curation (
    source_id       INTEGER PRIMARY KEY REFERENCES sources(id),
    cuts            TEXT NOT NULL,                 -- JSON array of seconds
    crop            TEXT,                          -- content region "W×H+X+Y" when black bars were cut off
    dropped_static  INTEGER NOT NULL DEFAULT 0,    -- motion below curation.min_motion
    dropped_black   INTEGER NOT NULL DEFAULT 0,    -- black share above curation.max_black
    dropped_blurry  INTEGER NOT NULL DEFAULT 0     -- detail below curation.min_detail
);
