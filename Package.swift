// swift-tools-version: 6.1
//
// NetLab: a from-scratch network stack that carries an online payment.
// One target per layer; dependencies point down (see docs/ARCHITECTURE.md).
// Targets arrive with the issue that fills them: today TCPSocket and the CLI.
import PackageDescription

let package = Package(
    name: "NetLab",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "TCPSocket", targets: ["TCPSocket"]),
        .executable(name: "netlab", targets: ["NetLabCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // System headers Swift's Glibc module lacks (epoll, eventfd).
        .target(name: "CSystem"),
        // Layer 1: POSIX TCP sockets, the ByteStream seam and the readiness loop.
        .target(name: "TCPSocket", dependencies: ["CSystem"]),

        // The `netlab` command: a thin front over the libraries.
        .executableTarget(
            name: "NetLabCLI",
            dependencies: [
                "TCPSocket",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        .testTarget(name: "TCPSocketTests", dependencies: ["TCPSocket"]),
    ],
    swiftLanguageModes: [.v6]
)
