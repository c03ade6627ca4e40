// swift-tools-version: 6.1
//
// NetLab: a from-scratch network stack that carries an online payment.
// One target per layer; dependencies point down (see docs/ARCHITECTURE.md).
// Every target here holds a built layer; a new one is added only with the code that fills it.
//
// A student's copy of the lab kit (`swift run lab export DIR` in exercises/) holds this package
// without its tests and without LabReferences, the labs' answers: the targets below that need
// them are declared only where they are.
import Foundation
import PackageDescription

func present(_ path: String) -> Bool { FileManager.default.fileExists(atPath: Context.packageDirectory + "/" + path) }
let withLabReferences = present("Sources/LabReferences")
let withTests = present("Tests")

/// PostgreSQL support (the shared store of several gateway instances: docs/SCALING.md) is built
/// where libpq's headers are: a student's laptop without them still builds everything else.
/// `NETLAB_POSTGRES=1` or `=0` decides instead.
let withPostgres: Bool = {
    switch Context.environment["NETLAB_POSTGRES"] {
    case "1": return true
    case "0": return false
    default:
        return ["/usr/include/postgresql/libpq-fe.h", "/usr/include/libpq-fe.h", "/opt/homebrew/opt/libpq/include/libpq-fe.h",
                "/usr/local/opt/libpq/include/libpq-fe.h"].contains { FileManager.default.fileExists(atPath: $0) }
    }
}()
/// Where PostgreSQL support is built, the code that uses it is compiled in (`#if NETLAB_POSTGRES`).
let postgresSettings: [SwiftSetting] = withPostgres ? [.define("NETLAB_POSTGRES")] : []

let package = Package(
    name: "NetLab",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "TCPSocket", targets: ["TCPSocket"]),
        .library(name: "HTTPParser", targets: ["HTTPParser"]),
        .library(name: "NetLabConformance", targets: ["NetLabConformance"]),
    ] + (withLabReferences ? [.library(name: "LabReferences", targets: ["LabReferences"])] : []) + [
        .library(name: "TLSWrapper", targets: ["TLSWrapper"]),
        .library(name: "NetLab", targets: ["NetLab"]),
        .library(name: "PaymentFlow", targets: ["PaymentFlow"]),
        .library(name: "NetLabDemo", targets: ["NetLabDemo"]),
        .executable(name: "netlab", targets: ["NetLabCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ] + (withTests ? [.package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.0")] : []),
    targets: [
        // System headers Swift's Glibc module lacks (epoll, eventfd).
        .target(name: "CSystem"),
        // Layer 1: POSIX TCP sockets, the ByteStream seam and the readiness loop.
        .target(name: "TCPSocket", dependencies: ["CSystem"]),

        // Under layer 1: a small internet of network namespaces joined by veth links (iproute2),
        // so the services run on hosts of their own instead of all on 127.0.0.1.
        .target(name: "LabNetwork", dependencies: ["TCPSocket", "CSystem"]),

        // Layer 2: sans-IO HTTP/1.1 parser and serializer (no sockets, no Foundation).
        .target(name: "HTTPParser"),

        // The conformance suites every implementation of a layer must pass: the reference in
        // Tests/, a student's in exercises/. Written once, here.
        // llhttp's test cases (MIT, its licence beside them) ship with it: lab 2 scores them anywhere.
        .target(
            name: "NetLabConformance", dependencies: ["HTTPParser", "TCPSocket", "TLSWrapper", "NetLab", "PaymentFlow"],
            resources: [.copy("llhttp")]),

        // Layer 3: TLS over the system OpenSSL (libssl-dev), through memory BIOs.
        .systemLibrary(
            name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"]), .brew(["openssl@3"])]),
        .target(name: "CTLSShim", dependencies: ["COpenSSL"]),
        .target(name: "TLSWrapper", dependencies: ["TCPSocket", "COpenSSL", "CTLSShim"]),

        // The assembled stack: HTTP server and client over any ByteStream.
        .target(name: "NetLab", dependencies: ["TCPSocket", "HTTPParser", "TLSWrapper"]),

        // SQLite's C API (libsqlite3-dev): the gateway's durable store.
        .systemLibrary(
            name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite"])]),

    ] + (withPostgres ? [
        // libpq, PostgreSQL's C client (libpq-dev): the gateway's shared store for several instances.
        .systemLibrary(
            name: "CPostgres", pkgConfig: "libpq", providers: [.apt(["libpq-dev"]), .brew(["libpq"])]),
    ] : []) + [
        // The payment system: bank, gateway (payment, fraud and notification services),
        // merchant and customer, as HTTPS services on NetLab.
        // Its pages, scripts and styles are files (Pages/): plain HTML, CSS and JavaScript.
        .target(
            name: "PaymentFlow", dependencies: ["NetLab", "TCPSocket", "TLSWrapper", "CSQLite"] + (withPostgres ? ["CPostgres"] : []),
            resources: [.copy("Pages")], swiftSettings: postgresSettings),

        // The step-through demo: scenarios of the payment system, observed at every layer.
        .target(name: "NetLabDemo", dependencies: ["PaymentFlow", "NetLab", "TLSWrapper", "TCPSocket", "HTTPParser", "LabNetwork"]),

        // The `netlab` command: a thin front over the libraries.
        .executableTarget(
            name: "NetLabCLI",
            dependencies: [
                "TCPSocket",
                "LabNetwork",
                "HTTPParser",
                "TLSWrapper",
                "NetLab",
                "PaymentFlow",
                "NetLabDemo",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: postgresSettings
        ),
    ] + (withLabReferences ? [
        // NetLab's own answers to labs 1, 3 and 4 (lab 2's is HTTPMessageParser, lab 5's the
        // shop's ReferenceWebhookHandler): for the kit's tests and an instructor's check.
        .target(name: "LabReferences", dependencies: ["NetLabConformance", "TCPSocket", "NetLab", "TLSWrapper"]),
    ] : []) + (withTests ? [
        // What several test targets share: running peers and the `netlab` binary.
        .target(name: "NetLabTestSupport", dependencies: ["TCPSocket"], path: "Tests/NetLabTestSupport"),
        .testTarget(name: "TCPSocketTests", dependencies: ["TCPSocket", "NetLabTestSupport"]),
        .testTarget(name: "LabNetworkTests", dependencies: ["LabNetwork", "TCPSocket", "TLSWrapper", "NetLabTestSupport"]),
        .testTarget(name: "NetLabTests", dependencies: ["NetLab", "TCPSocket", "HTTPParser", "TLSWrapper", "NetLabTestSupport"]),
        .testTarget(name: "TLSWrapperTests", dependencies: ["TLSWrapper", "TCPSocket", "NetLabTestSupport"]),
        .testTarget(
            name: "PaymentFlowTests", dependencies: ["PaymentFlow", "NetLab", "TLSWrapper", "HTTPParser", "TCPSocket", "NetLabTestSupport"],
            exclude: ["Interop"], swiftSettings: postgresSettings),
        .testTarget(name: "NetLabConformanceTests", dependencies: ["NetLabConformance", "LabReferences", "HTTPParser", "TCPSocket", "TLSWrapper", "PaymentFlow"]),
        .testTarget(name: "ExercisesTests", dependencies: ["NetLabTestSupport"]),
        .testTarget(
            name: "NetLabDemoTests", dependencies: ["NetLabDemo", "PaymentFlow", "NetLabTestSupport"], exclude: ["Interop"]),
        .testTarget(
            name: "HTTPParserTests",
            dependencies: [
                "HTTPParser", "NetLabConformance",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
    ] : []),
    swiftLanguageModes: [.v6]
)
