import Foundation
import NetLabTestSupport
import Testing

/// The lab kit in exercises/, tried as a student and as an instructor would: the starter builds
/// and fails every lab with readable messages (English and Bahasa Indonesia); the reference,
/// plugged in through the same seams by a build setting, passes every check; and a student who
/// fixes one function sees progress. (Each build is a separate `swift build` of the exercises
/// package, so these run one after another.)
@Suite("Lab kit (exercises/)", .serialized, .timeLimit(.minutes(10)))
struct ExercisesKitTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let exercises = repository.appendingPathComponent("exercises").path

    static func lab(_ arguments: [String], package: String = exercises, scratch: String? = nil, reference: Bool = false) async throws -> (Int32, String) {
        // Niced and one compile job at a time: these builds share two cores with the rest of the
        // suite, whose timing guards must not starve.
        var command = ["nice", "-n", "19", "swift", "run", "--jobs", "1", "--package-path", package]
        if let scratch { command += ["--scratch-path", scratch] }
        if reference { command += ["-Xswiftc", "-DNETLAB_REFERENCE"] }
        return try await TestProcess.run(command + ["lab"] + arguments, environment: ["NO_COLOR": "1"])
    }

    @Test("the starter builds and fails each lab with numbered steps, the rule, the bytes and a hint — never a crash")
    func starterFailsReadably() async throws {
        let (status, output) = try await Self.lab(["check", "5"])
        #expect(status == 1, "\(output.suffix(3000))")
        for expected in [
            "✘ 1.1", "echoClient(to:message:) is not written yet (see item 1 of \"What you build\" in the handout)",
            "✘ 2.2", "expected:", "got:", "^", "RFC 9112",
            "✘ 5.2", "after the gateway's pending notification, the order is created, expected awaiting_payment",
            "what your endpoint answered the gateway: pending: 501",
            "✘ 3.1", "✘ 4.3",
            "Progress", "0/6", "0/4", "0/8",
        ] {
            #expect(output.contains(expected), "missing \"\(expected)\" in:\n\(output.suffix(4000))")
        }
        #expect(!output.contains("crashed") && !output.contains("hung"), "\(output.suffix(3000))")

        let (_, indonesian) = try await Self.lab(["check", "1", "--lang", "id"])
        #expect(indonesian.contains("belum ditulis (lihat butir 1 bagian") && indonesian.contains("Kemajuan"), "\(indonesian.suffix(2000))")

        let (demoStatus, demo) = try await Self.lab(["demo", "--http=reference"])
        #expect(demoStatus == 0 && demo.contains("✔ card-accept"), "\(demo.suffix(2000))")
        let (studentDemoStatus, studentDemo) = try await Self.lab(["demo", "--http=student"])
        #expect(studentDemoStatus == 1 && studentDemo.contains("✘"), "with the starter parser the payment cannot go through:\n\(studentDemo.suffix(2000))")
    }

    @Test("the reference implementations, plugged in with -DNETLAB_REFERENCE, pass every check of every lab")
    func referencePasses() async throws {
        let (status, output) = try await Self.lab(["check", "5"], scratch: Self.exercises + "/.build-reference", reference: true)
        #expect(status == 0, "\(output.suffix(4000))")
        for done in ["6/6 ✔", "4/4 ✔", "8/8 ✔"] { #expect(output.contains(done), "\(output.suffix(2000))") }
        #expect(!output.contains("✘"))
    }

    @Test("a student's first fix: echoClient written, lab 1 shows 2 of 6 steps passing")
    func firstFixShowsProgress() async throws {
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-student-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: copy) }
        try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
        for item in try FileManager.default.contentsOfDirectory(atPath: Self.exercises) where !item.hasPrefix(".build") && item != "Package.resolved" {
            try FileManager.default.copyItem(atPath: Self.exercises + "/" + item, toPath: copy.appendingPathComponent(item).path)
        }
        // The copy lives elsewhere: point its dependency at this repository.
        let manifest = copy.appendingPathComponent("Package.swift")
        try String(contentsOf: manifest, encoding: .utf8)
            .replacingOccurrences(of: #".package(name: "NetLab", path: "..")"#, with: ".package(name: \"NetLab\", path: \"\(Self.repository.path)\")")
            .write(to: manifest, atomically: true, encoding: .utf8)
        let echo = copy.appendingPathComponent("lab1-sockets/Echo.swift")
        let fixed = try String(contentsOf: echo, encoding: .utf8).replacingOccurrences(
            of: #"        throw LabFailure.notImplemented("echoClient(to:message:)", step: "1")"#,
            with: """
                    let connection = try TCPConnection.connect(to: address)
                    defer { connection.close() }
                    final class Received: @unchecked Sendable { var bytes: [UInt8] = [] }
                    let received = Received()
                    let done = DispatchSemaphore(value: 0)
                    // Read on another thread while writing: 1 MiB does not fit in the socket buffers.
                    Thread {
                        var buffer: [UInt8] = []
                        while case .bytes? = try? connection.read(into: &buffer, maxBytes: 65536) {}
                        received.bytes = buffer
                        done.signal()
                    }.start()
                    try connection.write(message)
                    try connection.shutdown(.write)
                    done.wait()
                    return received.bytes
            """)
        try ("import Foundation\n" + fixed).write(to: echo, atomically: true, encoding: .utf8)
        let (status, output) = try await Self.lab(["check", "1"], package: copy.path)
        #expect(status == 1, "lab 1 is not finished yet")
        #expect(output.contains("✔ 1.1") && output.contains("✔ 1.2") && output.contains("✘ 1.3") && output.contains("2/6"), "\(output.suffix(3000))")
    }
}
