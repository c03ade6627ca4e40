import Foundation
import HTTPParser
import NetLab
import TCPSocket
import Testing

/// Clients that misbehave, on loopback. The server answers them correctly, keeps serving
/// everyone else, and leaks no descriptors. Serialized so descriptor counts are not disturbed
/// by the other tests of this suite.
@Suite("Hostile clients", .serialized, .timeLimit(.minutes(3)))
struct HostileClientTests {
    static var quickTimeouts: HTTPServerConfiguration {
        var configuration = HTTPServerConfiguration()
        configuration.headerTimeout = .milliseconds(300)
        configuration.bodyTimeout = .milliseconds(300)
        configuration.idleTimeout = .seconds(5)
        return configuration
    }

    /// Sends `raw` on a fresh connection and reads until the server closes (or 5 s pass).
    static func sendAndReadAll(_ address: SocketAddress, _ raw: [UInt8], drip: Duration? = nil) async throws -> String {
        let connection = try await AsyncTCPConnection.connect(to: address, timeout: .seconds(5))
        defer { Task { await connection.close() } }
        do {
            if let drip {
                for byte in raw {
                    try await connection.write([byte])
                    try await Task.sleep(for: drip)
                }
            } else {
                try await connection.write(raw)
            }
        } catch {
            // The server may close on us mid-drip; what it said is what counts.
        }
        var reply: [UInt8] = []
        while case .bytes = try await connection.read(into: &reply, maxBytes: 65536, deadline: .after(.seconds(5))) {}
        return String(decoding: reply, as: UTF8.self)
    }

    @Test("RFC 9112 §3.2: the authority-form off CONNECT, a fragment, an asterisk off OPTIONS and a Host that is no uri-host get 400", arguments: [
        "GET probe.test:80 HTTP/1.1\r\nHost: probe.test\r\n\r\n",
        "GET /hello#part HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET * HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET /hello HTTP/1.1\r\nHost: a b\r\n\r\n",
        "GET /hello HTTP/1.1\r\nHost: t:80x\r\n\r\n",
        "GET /hello HTTP/1.1\r\nHost: [::1\r\n\r\n",
        "GET ftp://t/hello HTTP/1.1\r\nHost: t\r\n\r\n",
    ])
    func targetForms(_ raw: String) async throws {
        try await withServer { _, address in
            let reply = try await Self.sendAndReadAll(address, Array(raw.utf8))
            #expect(reply.hasPrefix("HTTP/1.1 400"), "\(raw.debugDescription) → \(reply.prefix(80).debugDescription)")
        }
    }

    @Test("the forms RFC 9112 allows are served", arguments: [
        "GET /hello HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: close\r\n\r\n",
        "GET http://t/hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        "GET /hello HTTP/1.1\r\nHost: [::1]:443\r\nConnection: close\r\n\r\n",
        "GET /hello HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n",
        "GET /hello HTTP/1.0\r\n\r\n",
    ])
    func allowedForms(_ raw: String) async throws {
        try await withServer { _, address in
            let reply = try await Self.sendAndReadAll(address, Array(raw.utf8))
            #expect(reply.hasPrefix("HTTP/1.1 200") || reply.hasPrefix("HTTP/1.0 200"), "\(raw.debugDescription) → \(reply.prefix(80).debugDescription)")
        }
    }

    @Test("request smuggling attempts (CL.TE, TE.CL, duplicate CL) get 400 and the connection closes")
    func smuggling() async throws {
        try await withServer { _, address in
            for attack in [
                "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n",
                "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n",
                "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nContent-Length: 44\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n",
                "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked x\r\n\r\n0\r\n\r\n",
            ] {
                let reply = try await Self.sendAndReadAll(address, Array(attack.utf8))
                #expect(reply.hasPrefix("HTTP/1.1 400 "), "\(attack.debugDescription) → \(reply)")
                #expect(!reply.contains("Hello, World!"), "a smuggled request was answered")
            }
        }
    }

    @Test("an oversized head gets 431 and a close")
    func oversizedHead() async throws {
        try await withServer { _, address in
            let raw = "GET /hello HTTP/1.1\r\nHost: t\r\n" + String(repeating: "X-Filler: 0123456789\r\n", count: 2000) + "\r\n"
            let reply = try await Self.sendAndReadAll(address, Array(raw.utf8))
            #expect(reply.hasPrefix("HTTP/1.1 431 "))
        }
    }

    @Test("slowloris: a head dripped too slowly gets 408 at the header timeout")
    func slowloris() async throws {
        try await withServer(configuration: Self.quickTimeouts) { _, address in
            let start = ContinuousClock.now
            let reply = try await Self.sendAndReadAll(
                address, Array("GET /hello HTTP/1.1\r\nHost: t\r\nX-Slow: dripping\r\n\r\n".utf8), drip: .milliseconds(50))
            #expect(reply.hasPrefix("HTTP/1.1 408 "))
            #expect(ContinuousClock.now - start < .seconds(60), "the timeout must end the wait, not a hang (a loose bound: a loaded machine may be slow)")
        }
    }

    @Test("slowloris with 300 connections: each gets 408 at the header timeout, and an ordinary client is served throughout")
    func slowlorisCrowd() async throws {
        _ = OpenFileLimit.raiseToMaximum()  // 300 connections, both ends in this process
        try await withServer(configuration: Self.quickTimeouts) { _, address in
            let head = Array("GET /hello HTTP/1.1\r\nHost: t\r\nX-Slow: ".utf8) + Array(repeating: UInt8(ascii: "a"), count: 60)
            let replies = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<300 {
                    // A byte every 200 ms: the head timeout (300 ms from the first) cuts each
                    // off after two, and 300 of them stay light enough for a sanitizer's run.
                    group.addTask { try await Self.sendAndReadAll(address, head, drip: .milliseconds(200)) }
                }
                // Meanwhile, an ordinary client.
                let client = HTTPClient()
                for _ in 0..<10 {
                    #expect(try await client.get("http://127.0.0.1:\(address.port)/hello").text == "Hello, World!")
                }
                await client.shutdown()
                var replies: [String] = []
                for try await reply in group { replies.append(reply) }
                return replies
            }
            #expect(replies.count == 300)
            #expect(replies.filter { $0.hasPrefix("HTTP/1.1 408 ") }.count == 300, "\(Set(replies.map { $0.prefix(20) }))")
        }
    }

    @Test("a half-sent body gets 408 at the body timeout")
    func halfSentBody() async throws {
        try await withServer(configuration: Self.quickTimeouts) { _, address in
            let reply = try await Self.sendAndReadAll(address, Array("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nonly some".utf8))
            #expect(reply.hasPrefix("HTTP/1.1 408 "))
        }
    }

    @Test("abrupt resets mid-request do not disturb other clients")
    func resets() async throws {
        try await withServer { _, address in
            for _ in 0..<50 {
                let connection = try await AsyncTCPConnection.connect(to: address, timeout: .seconds(5))
                try await connection.write("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\npartial")
                await connection.abort()
            }
            let client = HTTPClient()
            let response = try await client.get("http://127.0.0.1:\(address.port)/hello")
            #expect(response.text == "Hello, World!")
            await client.shutdown()
        }
    }

    @Test("1,000 pipelined requests over TCP are all answered, in order")
    func pipelinedOverTCP() async throws {
        try await withServer { _, address in
            var raw = ""
            for i in 0..<1000 { raw += "GET /v2/\(i)/status HTTP/1.1\r\nHost: t\r\n\r\n" }
            raw += "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
            let reply = try await Self.sendAndReadAll(address, Array(raw.utf8))
            var parser = HTTPMessageParser(parsing: .responses)
            parser.receive(reply)
            var bodies: [String] = []
            while let event = try parser.nextEvent() {
                if case .body(let bytes) = event { bodies.append(String(decoding: bytes, as: UTF8.self)) }
            }
            #expect(bodies == (0..<1000).map { "status of \($0)" } + ["Hello, World!"])
        }
    }

    @Test("after hostile and ordinary clients, no socket of the server is left open (no descriptor leak)")
    func noLeaks() async throws {
        var port: UInt16 = 0
        try await withServer(configuration: Self.quickTimeouts) { _, address in
            port = address.port
            for raw in [
                "GET / HTTP/1.1\r\nHost : t\r\n\r\n",
                "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nab",
                "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
            ] {
                _ = try await Self.sendAndReadAll(address, Array(raw.utf8))
            }
            for _ in 0..<20 {
                let connection = try await AsyncTCPConnection.connect(to: address, timeout: .seconds(5))
                await connection.abort()
            }
            let client = HTTPClient()
            for _ in 0..<20 { _ = try await client.get("http://127.0.0.1:\(address.port)/hello") }
            await client.shutdown()
        }
        // Closing is asynchronous on the loops; give them a moment, then look.
        var left = openSockets(onPort: port)
        for _ in 0..<100 where !left.isEmpty {
            try await Task.sleep(for: .milliseconds(20))
            left = openSockets(onPort: port)
        }
        #expect(left.isEmpty, "sockets still open on port \(port):\n\(left.joined(separator: "\n"))")
    }

    @Test("graceful shutdown: stop accepting, finish the request in flight, close idle connections")
    func gracefulShutdown() async throws {
        // No sleeps to "let things settle": shutdown starts only once the server has really
        // accepted both connections (a client not yet accepted when the listener closes is reset).
        // The slow handler finishes only once the shutdown has begun (not after a sleep that a
        // busy machine could outlast): its answer must then say the connection closes.
        let (started, handlerStarted) = AsyncStream<Void>.makeStream()
        let (proceed, release) = AsyncStream<Void>.makeStream()
        var router = Router()
        router.get("/hello") { _ in .text("Hello, World!") }
        router.get("/slow") { _ in
            handlerStarted.yield()
            for await _ in proceed { break }
            return .text("finally")
        }
        let server = HTTPServer(router: router)
        let address = try await server.start(host: "127.0.0.1", port: 0)
        // The idle connection: one answered request proves it was accepted; now it waits.
        let idle = try await AsyncTCPConnection.connect(to: address, timeout: .seconds(5))
        try await idle.write(Array("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        var answer: [UInt8] = []
        while !String(decoding: answer, as: UTF8.self).hasSuffix("Hello, World!") {
            guard case .bytes = try await idle.read(into: &answer, maxBytes: 4096, deadline: .after(.seconds(10))) else { break }
        }
        let client = HTTPClient()
        let slow = Task { try await client.get("http://127.0.0.1:\(address.port)/slow") }
        var iterator = started.makeAsyncIterator()
        _ = await iterator.next()
        let stopping = Task { await server.shutdown(gracePeriod: .seconds(5)) }
        // The server stops accepting (and forgets its address) as the shutdown begins.
        while server.localAddress != nil { try await Task.sleep(for: .milliseconds(5)) }
        release.yield()
        await stopping.value
        let response = try await slow.value
        #expect(response.text == "finally")
        #expect(response.fields["Connection"] == "close")
        var buffer: [UInt8] = []
        #expect(try await idle.read(into: &buffer, maxBytes: 10, deadline: .after(.seconds(2))) == .endOfStream)
        await #expect(throws: SocketError.self) {
            _ = try await AsyncTCPConnection.connect(to: address, timeout: .seconds(2))
        }
        await idle.close()
        await client.shutdown()
    }
}
