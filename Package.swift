// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "MeshCA",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "MeshCA", targets: ["MeshCA"]),
        .executable(name: "certtool", targets: ["CertTool"]),
        .executable(name: "scrape-sidecar", targets: ["ScrapeSidecar"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
    ],
    targets: [
        // glibc functions Swift's Glibc module leaves out: malloc.h (freed heap back to the OS after a
        // connection storm), syncfs, fallocate, statx, getrandom and posix_spawn's closefrom.
        .systemLibrary(name: "CGlibc"),
        // FoundationEssentials and the C library, re-exported: certtool's modules stay off full Foundation.
        .target(name: "MeshPlatform"),
        .target(
            name: "MeshCA",
            dependencies: [
                "CGlibc", "MeshPlatform",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ]
        ),
        .target(
            name: "CommandLineSupport",
            dependencies: [
                "MeshCA", "MeshPlatform", "CGlibc",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "CertTool",
            dependencies: [
                "MeshCA", "MeshPlatform", "CommandLineSupport", "EnrollmentServer",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(
            name: "MeshTLS",
            dependencies: [
                "MeshCA", "MeshPlatform",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // libyaml (Debian libyaml-dev), for the sidecar's YAML files. Yams wraps the same parser but imports all
        // of Foundation (ICU, CoreFoundation: ≈ 2 MiB of the sidecar's idle RSS and 2,000 conformance records).
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        // The sidecar's YAML files: its own config and the exporter-toolkit's web config.
        .target(
            name: "SidecarConfig",
            dependencies: [
                "CYAML", "MeshCA", "MeshPlatform", "MeshTLS",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .target(
            name: "EnrollmentServer",
            dependencies: [
                "MeshCA", "MeshPlatform", "MeshTLS",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        .executableTarget(
            name: "ScrapeSidecar",
            dependencies: [
                "CGlibc", "MeshTLS", "MeshPlatform", "SidecarConfig", "CommandLineSupport",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            // Channel handlers are confined to their event loop; NIO's isolation annotations are adopted later.
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        // Fuzz targets for the parsers of untrusted input; replays inputs in normal builds (scripts/fuzz).
        .executableTarget(
            name: "MeshCAFuzz",
            dependencies: [
                "MeshCA", "MeshTLS", "SidecarConfig",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "MeshCATests", dependencies: ["MeshCA"]),
        .testTarget(name: "SidecarConfigTests", dependencies: ["SidecarConfig", "MeshCA"]),
        .testTarget(
            name: "MeshTLSTests",
            dependencies: [
                "MeshTLS", "MeshCA", .product(name: "X509", package: "swift-certificates"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"), .product(name: "NIOTLS", package: "swift-nio"),
            ]),
        .testTarget(
            name: "ScrapeSidecarTests",
            dependencies: [
                "ScrapeSidecar", "MeshCA", "MeshTLS", "CommandLineSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "MeshCA", "CertTool", "ScrapeSidecar", .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "X509", package: "swift-certificates"), "SidecarConfig",
            ],
            exclude: ["Fixtures"]),
    ]
)
