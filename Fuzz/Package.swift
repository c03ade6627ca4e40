// swift-tools-version: 6.1
//
// NetLab's fuzz targets: one libFuzzer binary per input reader, built with
// `-sanitize=fuzzer,address` (Linux). Run them with `Fuzz/run.sh TARGET SECONDS`; the figures
// and what was found are in docs/RELIABILITY.md.
//
// A package of its own so that `swift build` and `swift test` at the root never need the
// fuzzer runtime. `run.sh` fetches llhttp (the differential target's peer) before building.
import PackageDescription

// Each target's main.swift hands its test function to libFuzzer's driver (CFuzzer).
func fuzzTarget(_ name: String, _ dependencies: [Target.Dependency]) -> Target {
    .executableTarget(name: name, dependencies: ["FuzzSupport", "CFuzzer"] + dependencies)
}

let package = Package(
    name: "NetLabFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "NetLab", path: "..")],
    targets: [
        // What every target shares: the oracle checks, split points and the parser driver.
        .target(name: "FuzzSupport", dependencies: [
            .product(name: "HTTPParser", package: "NetLab"), .product(name: "TLSWrapper", package: "NetLab"),
        ]),
        // libFuzzer's driver, called from each target's main.
        .target(name: "CFuzzer"),
        // llhttp 9 (Node.js's parser, in C), the differential target's peer: fetched by run.sh.
        .target(name: "CLLHTTP", path: "Sources/CLLHTTP", exclude: ["VERSION"]),

        fuzzTarget("request", [.product(name: "HTTPParser", package: "NetLab")]),
        fuzzTarget("response", [.product(name: "HTTPParser", package: "NetLab")]),
        fuzzTarget("chunked", [.product(name: "HTTPParser", package: "NetLab")]),
        fuzzTarget("roundtrip", [.product(name: "HTTPParser", package: "NetLab")]),
        fuzzTarget("differential", [.product(name: "HTTPParser", package: "NetLab"), "CLLHTTP"]),
        fuzzTarget("charge-json", [.product(name: "PaymentFlow", package: "NetLab")]),
        fuzzTarget("url-form", [.product(name: "NetLab", package: "NetLab"), .product(name: "PaymentFlow", package: "NetLab")]),
        fuzzTarget("webhook", [.product(name: "PaymentFlow", package: "NetLab")]),
        fuzzTarget("tls-server", [.product(name: "TLSWrapper", package: "NetLab")]),
        fuzzTarget("tls-client", [.product(name: "TLSWrapper", package: "NetLab")]),
        fuzzTarget("lab-parser-checker", [
            .product(name: "HTTPParser", package: "NetLab"), .product(name: "NetLabConformance", package: "NetLab"),
        ]),
        // Writes the seed corpora (the parser vector table, llhttp's cases, a demo's traffic).
        .executableTarget(name: "seeds", dependencies: [
            "FuzzSupport",
            .product(name: "HTTPParser", package: "NetLab"), .product(name: "NetLabConformance", package: "NetLab"),
            .product(name: "NetLabDemo", package: "NetLab"), .product(name: "PaymentFlow", package: "NetLab"),
        ]),
    ]
)
