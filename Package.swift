// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "MeshCA",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "MeshCA", targets: ["MeshCA"]),
        .executable(name: "certtool", targets: ["CertTool"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    ],
    targets: [
        .target(
            name: "MeshCA",
            dependencies: [
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        .executableTarget(
            name: "CertTool",
            dependencies: [
                "MeshCA",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "MeshCATests", dependencies: ["MeshCA"]),
        .testTarget(
            name: "CertToolTests",
            dependencies: ["MeshCA", "CertTool", .product(name: "SwiftASN1", package: "swift-asn1")]),
    ]
)
