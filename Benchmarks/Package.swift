// swift-tools-version: 6.1
// NetLab's benchmarks, kept out of the main package so `swift test` never builds them.
// Each executable prints JSON lines in the format of the peer harnesses it is compared with
// (see run-http-parse.sh and docs/PERFORMANCE.md).
import PackageDescription

let package = Package(
    name: "NetLabBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "NetLab", path: ".."),
    ],
    targets: [
        .executableTarget(
            name: "http-parse-netlab",
            dependencies: [.product(name: "HTTPParser", package: "NetLab")],
            path: "Sources/http-parse-netlab"
        ),
        .executableTarget(
            name: "http-hello-netlab",
            dependencies: [.product(name: "NetLab", package: "NetLab")],
            path: "Sources/http-hello-netlab"
        ),
        .executableTarget(
            name: "tls-bench-netlab",
            dependencies: [
                .product(name: "TLSWrapper", package: "NetLab"), .product(name: "TCPSocket", package: "NetLab"),
            ],
            path: "Sources/tls-bench-netlab"
        ),
        .executableTarget(
            name: "payment-bench-netlab",
            dependencies: [
                .product(name: "PaymentFlow", package: "NetLab"), .product(name: "NetLab", package: "NetLab"),
                .product(name: "TLSWrapper", package: "NetLab"),
            ],
            path: "Sources/payment-bench-netlab"
        ),
        .executableTarget(
            name: "scale-bench-netlab",
            dependencies: [
                .product(name: "PaymentFlow", package: "NetLab"), .product(name: "NetLab", package: "NetLab"),
                .product(name: "TLSWrapper", package: "NetLab"),
            ],
            path: "Sources/scale-bench-netlab"
        ),
    ],
    swiftLanguageModes: [.v6]
)
