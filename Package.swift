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
    ],
    targets: [
        // FFmpeg's libavformat/libavcodec/libswscale/libavutil, plus a header of
        // inline wrappers for the macros Swift cannot import.
        .systemLibrary(
            name: "CFFmpeg",
            pkgConfig: "libavformat",
            providers: [.apt(["libavformat-dev", "libavcodec-dev", "libswscale-dev", "libavutil-dev"])]
        ),
        .target(
            name: "VideoIO",
            dependencies: [
                "CFFmpeg",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "VideoARCLI",
            dependencies: [
                "VideoIO",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "VideoIOTests",
            dependencies: [
                "VideoIO",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ]
)
