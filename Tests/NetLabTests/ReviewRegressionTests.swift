import Foundation
import HTTPParser
import NetLab
import TCPSocket
import Testing

/// Regressions for problems a review found; each test names the problem it pins.
@Suite("Server and client regressions", .timeLimit(.minutes(3)))
struct ReviewRegressionTests {
    @Test("a client that pipelines 2,000 requests and reads late gets every answer, in order (output is flushed at a high-water mark)")
    func pipelineWithoutReading() async throws {
        try await withServer { _, address in
            let connection = try await AsyncTCPConnection.connect(to: address, timeout: .seconds(5))
            var raw = ""
            for i in 0..<2000 { raw += "GET /v2/\(i)/status HTTP/1.1\r\nHost: t\r\n\r\n" }
            raw += "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
            let writer = Task { try await connection.write(raw) }
            try await Task.sleep(for: .milliseconds(300))
            var reply: [UInt8] = []
            while case .bytes = try await connection.read(into: &reply, maxBytes: 65536, deadline: .after(.seconds(10))) {}
            try await writer.value
            await connection.close()
            var parser = HTTPMessageParser(parsing: .responses)
            parser.receive(reply)
            var bodies: [String] = []
            while let event = try parser.nextEvent() {
                if case .body(let bytes) = event { bodies.append(String(decoding: bytes, as: UTF8.self)) }
            }
            #expect(bodies.count == 2001)
            #expect(bodies.last == "Hello, World!")
            #expect(bodies.first == "status of 0")
        }
    }

    @Test("the header timeout also guards a head that began in the same read as the request before it")
    func headerTimeoutAfterPipelinedRequest() async throws {
        var configuration = HTTPServerConfiguration()
        configuration.headerTimeout = .milliseconds(300)
        try await withServer(configuration: configuration) { _, address in
            let connection = try await AsyncTCPConnection.connect(to: address, timeout: .seconds(5))
            try await connection.write("GET /hello HTTP/1.1\r\nHost: t\r\n\r\nG")
            let start = ContinuousClock.now
            var reply: [UInt8] = []
            // Drip the rest of the second head slowly; the server must give up at ~300 ms.
            let drip = Task {
                for byte in "ET /hello HTTP/1.1\r\nHost: t\r\n\r\n".utf8 {
                    try await Task.sleep(for: .milliseconds(100))
                    try await connection.write([byte])
                }
            }
            while case .bytes = try await connection.read(into: &reply, maxBytes: 65536, deadline: .after(.seconds(10))) {}
            drip.cancel()
            let text = String(decoding: reply, as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 200 OK"))
            #expect(text.contains("HTTP/1.1 408 "))
            #expect(ContinuousClock.now - start < .seconds(60), "the timeout must end the wait, not a hang (a loose bound: a loaded machine may be slow)")
            await connection.close()
        }
    }

    @Test("a handler's invalid status does not wipe the answers queued before it")
    func invalidStatusKeepsEarlierAnswers() async throws {
        var router = testRouter()
        router.get("/bad-status") { _ in HTTPResponse(status: 42) }
        router.get("/interim") { _ in HTTPResponse(status: 103) }
        let server = HTTPServer(router: router)
        let raw = "GET /hello HTTP/1.1\r\nHost: t\r\n\r\nGET /interim HTTP/1.1\r\nHost: t\r\n\r\nGET /bad-status HTTP/1.1\r\nHost: t\r\n\r\n"
        let (responses, closed) = try await converse(server, raw, responses: 3)
        #expect(responses.map(\.status) == [200, 500, 500])
        #expect(responses.first?.text == "Hello, World!")
        #expect(closed)
    }

    @Test("a \"://\" inside an origin-form target's query does not change the route")
    func schemeInQuery() async throws {
        let server = HTTPServer(router: testRouter())
        let (responses, _) = try await converse(server, "GET /query?q=http://x/admin HTTP/1.1\r\nHost: t\r\n\r\n", responses: 1)
        #expect(responses.first?.text == "http://x/admin")
    }

    @Test("a path parameter may not decode to a path separator")
    func encodedSlashInParameter() async throws {
        let server = HTTPServer(router: testRouter())
        let (responses, _) = try await converse(server, "GET /v2/..%2F..%2Fetc/status HTTP/1.1\r\nHost: t\r\n\r\n", responses: 1)
        #expect(responses.first?.status == 404)
    }

    @Test("HTTP/1.0 clients get no 100 Continue")
    func noContinueForHTTP10() async throws {
        let server = HTTPServer(router: testRouter())
        let (responses, _) = try await converse(
            server, "POST /echo HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi", responses: 1, methods: [.post])
        #expect(responses.first?.status == 200)
        #expect(responses.first?.text == "hi")
    }

    @Test("static files: no traversal, no hidden files, no escape through a symbolic link; big files stream intact")
    func staticFiles() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-static-\(UUID().uuidString)")
        let outside = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-outside-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        defer {
            try? FileManager.default.removeItem(at: root)
            try? FileManager.default.removeItem(at: outside)
        }
        try Data("secret".utf8).write(to: outside.appendingPathComponent("secret.txt"))
        try Data("hidden".utf8).write(to: root.appendingPathComponent(".env"))
        try Data("public".utf8).write(to: root.appendingPathComponent("public.txt"))
        let big = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try Data(big).write(to: root.appendingPathComponent("big.bin"))
        try FileManager.default.createSymbolicLink(at: root.appendingPathComponent("escape"), withDestinationURL: outside)
        var router = Router()
        router.fallback = StaticFiles(root: root.path).handler
        try await withServer(router: router) { _, address in
            let client = HTTPClient()
            let base = "http://127.0.0.1:\(address.port)"
            #expect(try await client.get(base + "/public.txt").text == "public")
            #expect(try await client.get(base + "/.env").status == 404)
            #expect(try await client.get(base + "/escape/secret.txt").status == 404)
            #expect(try await client.get(base + "/%2e%2e/secret.txt").status == 404)
            let listing = try await client.get(base + "/").text
            #expect(listing.contains("public.txt") && !listing.contains(".env") && !listing.contains("escape"),
                    "the listing shows what can be fetched: no hidden names, no links out of the root: \(listing)")
            let streamed = try await client.get(base + "/big.bin")
            #expect(streamed.fields["Transfer-Encoding"] == "chunked")
            #expect(streamed.body == big)
            await client.shutdown()
        }
    }

    @Test("the client's trace never shows credentials")
    func traceRedactsCredentials() async throws {
        try await withServer { _, address in
            let sent = Locked<[String]>([])
            let client = HTTPClient(trace: { event in
                if case .sent(let head, _) = event { sent.withLock { $0.append(head) } }
            })
            var request = HTTPClientRequest(url: try HTTPURL("http://127.0.0.1:\(address.port)/hello"))
            request.basicAuthorization(user: "SB-Mid-server-SECRET")
            _ = try await client.execute(request)
            let head = sent.withLock { $0.joined() }
            #expect(head.contains("Authorization: [redacted]"))
            #expect(!head.contains("U0ItTWlkLXNlcnZlci1TRUNSRVQ6"))
            await client.shutdown()
        }
    }
}
