// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "VideoAR",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "videoar", targets: ["VideoARCLI"]),
        .library(name: "VideoIO", targets: ["VideoIO"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.0"),
    ],
    targets: [
        // FFmpeg's libavformat/libavcodec/libswscale/libavutil, plus a header of
        // inline wrappers for the macros Swift cannot import.
        .systemLibrary(
            name: "CFFmpeg",
            pkgConfig: "libavformat",
            providers: [.apt(["libavformat-dev", "libavcodec-dev", "libswscale-dev", "libavutil-dev"])]
        ),
        // Strict decoding of `…Configuration` types: unknown keys and bad values name the key.
        .target(name: "ConfigCoding"),
        .target(
            name: "VideoIO",
            dependencies: [
                "CFFmpeg",
                "ConfigCoding",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "VideoARCLI",
            dependencies: [
                "VideoIO",
                "ConfigCoding",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "VideoIOTests",
            dependencies: [
                "VideoIO",
                "ConfigCoding",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Runs the built `videoar` binary: exit codes, JSON and messages are its contract.
        .testTarget(
            name: "VideoARCLITests",
            dependencies: ["VideoARCLI"]
        ),
    ]
)
