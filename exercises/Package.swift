// swift-tools-version: 6.1
//
// NetLab's lab kit. Each lab is one folder with one file for you to complete; everything else —
// the checks, the runner, the rest of NetLab — is provided. Your code is plugged into the real
// stack through the layer's Swift protocol.
//
//   swift run lab check 1            # run lab 1's checks
//   swift run lab check 5 --lang id  # labs 1 to 5, messages in Bahasa Indonesia
//   swift run lab demo --http=student   # the payment demo with your HTTP parser in every actor
import Foundation
import PackageDescription

// NetLab itself: beside this folder in NetLab's repository, inside it (NetLab/) in a student's
// copy of the kit. Only the repository has the labs' answers (LabReferences).
let kit = Context.packageDirectory
let netlab = FileManager.default.fileExists(atPath: kit + "/NetLab/Package.swift") ? "NetLab" : ".."
let withLabReferences = FileManager.default.fileExists(atPath: kit + "/" + netlab + "/Sources/LabReferences")

let package = Package(
    name: "NetLabExercises",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "NetLab", path: netlab),
    ],
    targets: [
        // Your code: one folder per lab.
        .target(
            name: "Lab1Sockets",
            dependencies: [.product(name: "TCPSocket", package: "NetLab"), .product(name: "NetLabConformance", package: "NetLab")],
            path: "lab1-sockets", exclude: ["README.md", "README.id.md"]),
        .target(
            name: "Lab2HTTPParsing",
            dependencies: [.product(name: "HTTPParser", package: "NetLab"), .product(name: "NetLabConformance", package: "NetLab")],
            path: "lab2-http-parsing", exclude: ["README.md", "README.id.md"]),
        .target(
            name: "Lab3HTTPServer",
            dependencies: [.product(name: "NetLab", package: "NetLab"), .product(name: "NetLabConformance", package: "NetLab")],
            path: "lab3-http-server", exclude: ["README.md", "README.id.md"]),
        .target(
            name: "Lab4TLS",
            dependencies: [.product(name: "TLSWrapper", package: "NetLab"), .product(name: "NetLabConformance", package: "NetLab")],
            path: "lab4-tls", exclude: ["README.md", "README.id.md"]),
        .target(
            name: "Lab5Webhooks",
            dependencies: [.product(name: "PaymentFlow", package: "NetLab"), .product(name: "NetLabConformance", package: "NetLab")],
            path: "lab5-webhooks", exclude: ["README.md", "README.id.md"]),

        // Provided: the runner. In NetLab's repository, built with -Xswiftc -DNETLAB_REFERENCE,
        // it checks NetLab's own implementations instead of yours (how CI proves every check
        // can pass).
        .executableTarget(
            name: "lab",
            dependencies: [
                "Lab1Sockets", "Lab2HTTPParsing", "Lab3HTTPServer", "Lab4TLS", "Lab5Webhooks",
                .product(name: "NetLabConformance", package: "NetLab"),
                .product(name: "NetLabDemo", package: "NetLab"),
                .product(name: "HTTPParser", package: "NetLab"),
                .product(name: "NetLab", package: "NetLab"),
                .product(name: "PaymentFlow", package: "NetLab"),
                .product(name: "TCPSocket", package: "NetLab"),
                .product(name: "TLSWrapper", package: "NetLab"),
            ] + (withLabReferences ? [.product(name: "LabReferences", package: "NetLab")] : []),
            path: "Sources/lab"),
    ],
    swiftLanguageModes: [.v6]
)
