import Foundation
import NetLabTestSupport
import Testing

/// The lab kit in exercises/, tried as a student and as an instructor would: the starter builds
/// and fails every lab with readable messages (English and Bahasa Indonesia); the reference,
/// plugged in through the same seams by a build setting, passes every check; and a whole grading
/// round, from the exported student kit to a JSON grade. (Each build is a separate `swift build` of the exercises
/// package, so these run one after another.)
@Suite("Lab kit (exercises/)", .serialized, .timeLimit(.minutes(15)))
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

    @Test("lab serve 5 at a class gateway: a merchant's webhook endpoint (NetLab's answer here) receives the gateway's webhooks and the order it placed turns paid at the bank's ATM")
    func webhookEndpointAtAClassGateway() async throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-class-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: state) }
        let base = try TestPorts.freeBase(count: 6)
        let endpoint = base + 5
        let netlab = try TestProcess.netlabBinary()
        // The class gateway.
        let gateway = try await Self.child([netlab, "serve", "all", "--single-process", "--port-base", String(base), "--state", state, "--fast"], until: "state ")
        defer { gateway.send(SIGKILL) }
        let (added, keys) = try await TestProcess.run([netlab, "gateway", "merchant", "add", "G-LAB5-01", "--state", state,
                                                       "--notification-url", "http://127.0.0.1:\(endpoint)/notifications", "--allow-private-webhooks"])
        let serverKey = try #require(keys.split(separator: "\n").first { $0.hasPrefix("server key ") }?.split(separator: " ")[2], "\(added): \(keys)")
        // The student's endpoint, NetLab's answer plugged in (the reference build of the kit).
        let lab = try await Self.child(["nice", "-n", "19", "swift", "run", "--jobs", "1", "--package-path", Self.exercises, "--scratch-path", Self.exercises + "/.build-reference",
                                  "-Xswiftc", "-DNETLAB_REFERENCE", "lab", "serve", "5", "--gateway", "https://127.0.0.1:\(base)", "--server-key", String(serverKey),
                                  "--cacert", state + "/ca/ca.pem", "--host", "127.0.0.1", "--port", String(endpoint)], until: "lab 5: ", limit: .seconds(600))
        defer { lab.send(SIGKILL) }

        let (_, placed) = try await TestProcess.run(["curl", "-s", "-X", "POST", "http://127.0.0.1:\(endpoint)/orders", "-H", "Content-Type: application/json",
                                                     "-d", #"{"gross_amount":15000}"#])
        let order = try #require(try JSONSerialization.jsonObject(with: Data(placed.utf8)) as? [String: String], "\(placed)")
        let va = try #require(order["va_number"], "\(placed)")
        let (_, paid) = try await TestProcess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", state + "/ca/ca.pem", "-X", "POST",
                                                   "https://127.0.0.1:\(base + 1)/va/\(va)/pay"])
        #expect(paid == "200", "the bank took the payment: \(paid)")
        var orders = ""
        for _ in 0..<200 where !orders.contains(#""status":"paid""#) {
            orders = try await TestProcess.run(["curl", "-s", "http://127.0.0.1:\(endpoint)/orders"]).1
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(orders.contains(#""status":"paid""#) && orders.contains(order["order_id"] ?? "?"), "\(orders)\n\(lab.output.suffix(2000))")
        #expect(lab.output.contains("webhook → your handler answered 200"), "\(lab.output.suffix(2000))")
    }

    /// A long-running child, once it has printed `ready`.
    static func child(_ command: [String], until ready: String, limit: Duration = .seconds(60)) async throws -> ChildProcess {
        let child = try ChildProcess(executable: "/usr/bin/env", arguments: command)
        let deadline = ContinuousClock.now + limit
        while !child.output.contains(ready) {
            guard child.exited == nil, ContinuousClock.now < deadline else {
                child.send(SIGKILL)
                throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "\(command.joined(separator: " ")) did not print \"\(ready)\":\n\(child.output.suffix(3000))"])
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return child
    }

    @Test("a grading round: export the student kit, write one correct lab and one that calls NetLab's parser, tamper with the copy's checks; lab grade --json scores 6/6, flags the parser and a lab that ends the process, and ignores the tampering")
    func gradingRound() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-grading-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let kit = root.appendingPathComponent("kit")
        let exists = { (path: String) in FileManager.default.fileExists(atPath: kit.appendingPathComponent(path).path) }

        // The instructor exports the student kit: starters, handouts, checks, NetLab — no answers, no tests.
        let (exportStatus, exported) = try await Self.lab(["export", kit.path])
        #expect(exportStatus == 0, "\(exported.suffix(2000))")
        for present in ["Package.swift", "lab1-sockets/Echo.swift", "lab5-webhooks/README.id.md", "lab-wireshark/README.md", "lab6-tcp-under-loss/README.md",
                        "NetLab/docs/NETWORK.md", "NetLab/Sources/LabNetwork/LinkEmulator.swift",
                        "NetLab/Package.swift", "NetLab/Sources/NetLabConformance/llhttp/cases.jsonl", "NetLab/Sources/NetLabConformance/llhttp/LICENSE"] {
            #expect(exists(present), "the export lacks \(present)")
        }
        for absent in ["NetLab/Sources/LabReferences", "NetLab/Tests", "NetLab/exercises", "NetLab/Benchmarks", "NetLab/docs/TEACHING.md"] {
            #expect(!exists(absent), "the export holds \(absent)")
        }

        // A student: lab 1 done right; lab 2 "done" by wrapping NetLab's own parser; and the
        // copy's checks edited so that every step passes.
        try Self.correctEcho.write(to: kit.appendingPathComponent("lab1-sockets/Echo.swift"), atomically: true, encoding: .utf8)
        try Self.delegatingParser.write(to: kit.appendingPathComponent("lab2-http-parsing/Parser.swift"), atomically: true, encoding: .utf8)
        // Lab 3 ends the process from inside a step (as code that forges its verdict would).
        let server = kit.appendingPathComponent("lab3-http-server/Server.swift")
        try String(contentsOf: server, encoding: .utf8)
            .replacingOccurrences(of: "        // Not written yet: the connection is dropped without an answer.", with: "        exit(0)")
            .replacingOccurrences(of: "import HTTPParser\n", with: "import Foundation\nimport HTTPParser\n")
            .write(to: server, atomically: true, encoding: .utf8)
        let labs = kit.appendingPathComponent("NetLab/Sources/NetLabConformance/Labs.swift")
        let original = try String(contentsOf: labs, encoding: .utf8)
        let tampered = original.replacingOccurrences(of: "        self.run = run\n", with: "        self.run = { _ = try? await run() }\n")
        #expect(tampered != original)
        try tampered.write(to: labs, atomically: true, encoding: .utf8)
        // In the student's own copy, the export builds and the tampering "works" (lab 4, whose
        // starter passes nothing, shows every step passed).
        let (_, own) = try await Self.lab(["check", "4", "--step", "4.1"], package: kit.path)
        #expect(own.contains("✔ 4.1") && own.contains("1/1 ✔"), "\(own.suffix(3000))")

        // The instructor grades from their own kit: only the five lab files count.
        let report = root.appendingPathComponent("s-001.json")
        let (gradeStatus, log) = try await Self.lab(["grade", kit.path, "--json", "--student", "s-001", "--out", report.path, "--jobs", "1"])
        #expect(gradeStatus == 1, "not everything passed: \(log.suffix(3000))")
        let json = try #require(try? JSONSerialization.jsonObject(with: Data(contentsOf: report)) as? [String: Any], "\(log.suffix(3000))")
        let graded = try #require(json["labs"] as? [[String: Any]])
        func lab(_ number: Int) -> [String: Any] { graded.first { $0["lab"] as? Int == number } ?? [:] }
        #expect(json["student"] as? String == "s-001" && json["flagged"] as? Bool == true)
        #expect(json["points"] as? Int == 6 && json["total"] as? Int == 30, "\(json)")
        #expect(lab(1)["points"] as? Int == 6 && lab(1)["problem"] == nil, "\(lab(1))")
        let problem = lab(2)["problem"] as? [String: Any]
        #expect(lab(2)["points"] as? Int == 0 && lab(2)["passed"] as? Int == 6, "the wrapper passes every check and scores nothing: \(lab(2))")
        #expect(problem?["kind"] as? String == "calls-netlab-implementation", "\(lab(2))")
        #expect((problem?["detail"] as? [String])?.joined().contains("HTTPParser.HTTPMessageParser") == true, "\(lab(2))")
        let suspicious = lab(3)["problem"] as? [String: Any]
        #expect(suspicious?["kind"] as? String == "suspicious-calls" && (suspicious?["detail"] as? [String])?.joined().contains("ends or signals the process") == true,
                "\(lab(3))")
        for untouched in 4...5 { #expect(lab(untouched)["points"] as? Int == 0 && lab(untouched)["problem"] == nil, "\(lab(untouched))") }
    }

    static let correctEcho = """
        import NetLabConformance
        import TCPSocket

        public struct StudentEcho: EchoLab {
            public init() {}

            public func echoClient(to address: SocketAddress, message: [UInt8]) throws -> [UInt8] {
                let connection = try TCPConnection.connect(to: address)
                defer { connection.close() }
                // Read on another thread while writing: 32 MiB does not fit in the socket buffers.
                let reader = LabThread { () throws -> [UInt8] in
                    var received: [UInt8] = []
                    while case .bytes = try connection.read(into: &received, maxBytes: 65536) {}
                    return received
                }
                try connection.write(message)
                try connection.shutdown(.write)
                return try reader.value()
            }

            public func serveOne(on listener: TCPListener) throws {
                let connection = try listener.accept()
                defer { connection.close() }
                var buffer: [UInt8] = []
                while case .bytes = try connection.read(into: &buffer, maxBytes: 65536) {
                    try connection.write(buffer)
                    buffer.removeAll()
                }
            }

            public func serveMany(on listener: AsyncTCPListener) async throws {
                try await listener.serve { connection in
                    var buffer: [UInt8] = []
                    while case .bytes = try await connection.read(into: &buffer, maxBytes: 65536) {
                        try await connection.write(buffer)
                        buffer.removeAll()
                    }
                }
            }
        }

        """

    /// Lab 2 "done" by renaming NetLab's own parser.
    static let delegatingParser = """
        import HTTPParser
        import NetLabConformance

        public struct StudentParser: HTTPMessageParsing, Sendable {
            var mine: HTTPMessageParser

            public init(_ configuration: ParserConfiguration) {
                mine = HTTPMessageParser(parsing: configuration.kind, limits: configuration.limits, options: configuration.options)
            }

            public mutating func receive(_ bytes: some Collection<UInt8>) { mine.receive(bytes) }
            public mutating func receiveEndOfStream() { mine.receiveEndOfStream() }
            public mutating func expectResponse(to method: HTTPMethod) { mine.expectResponse(to: method) }
            public mutating func nextEvent() throws(HTTPParseError) -> HTTPEvent? { try mine.nextEvent() }
            public var bufferedByteCount: Int { mine.bufferedByteCount }
        }

        """
}
