import Foundation
import NetLabTestSupport
import HTTPParser
import NetLab
import TCPSocket
import Testing

/// Client and server on loopback, and each against real peers.
@Suite("HTTP over loopback", .timeLimit(.minutes(3)))
struct LoopbackTests {
    struct Charge: Codable, Equatable {
        var orderID: String
        var grossAmount: Int
    }

    @Test("client → server: GET, JSON POST, path parameters; the pool reuses one connection")
    func clientServer() async throws {
        var router = testRouter()
        router.post("/v2/charge") { request in
            var charge: Charge = try request.decodeJSON()
            charge.grossAmount += 1
            return try .json(charge, status: 201)
        }
        try await withServer(router: router) { _, address in
            let events = Locked<[String]>([])
            let client = HTTPClient(trace: { event in
                switch event {
                case .connected: events.withLock { $0.append("connected") }
                case .reusedConnection: events.withLock { $0.append("reused") }
                default: break
                }
            })
            let base = "http://127.0.0.1:\(address.port)"
            let hello = try await client.get(base + "/hello")
            #expect(hello.status == 200 && hello.text == "Hello, World!")
            let (response, charge) = try await client.postJSON(base + "/v2/charge", Charge(orderID: "o-1", grossAmount: 10000), as: Charge.self)
            #expect(response.status == 201)
            #expect(charge == Charge(orderID: "o-1", grossAmount: 10001))
            let status = try await client.get(base + "/v2/o-1/status")
            #expect(status.text == "status of o-1")
            #expect(events.withLock { $0 } == ["connected", "reused", "reused"])
            #expect(client.idleConnectionCount == 1)
            await client.shutdown()
        }
    }

    @Test("the client sends chunked bodies and reads chunked and close-delimited responses")
    func clientFraming() async throws {
        try await withServer { _, address in
            let client = HTTPClient()
            var request = HTTPClientRequest(method: .post, url: try HTTPURL("http://127.0.0.1:\(address.port)/echo"))
            request.body = Array("chunk me".utf8)
            request.chunked = true
            let echoed = try await client.execute(request)
            #expect(echoed.text == "chunk me")
            let streamed = try await client.get("http://127.0.0.1:\(address.port)/stream")
            #expect(streamed.text == "part 1\npart 2\npart 3\n")
            await client.shutdown()
        }
        // A close-delimited response from a server that is not NetLab's.
        let listener = try TCPListener(host: "127.0.0.1", port: 0)
        let peer = Task {
            try await onThread {
            let connection = try listener.accept(deadline: .after(.seconds(5)))
            _ = try connection.read(deadline: .after(.seconds(5)))
            try connection.write("HTTP/1.1 200 OK\r\n\r\nuntil the end")
            connection.close()
            }
        }
        let client = HTTPClient()
        let response = try await client.get("http://127.0.0.1:\(listener.localAddress.port)/")
        #expect(response.text == "until the end")
        #expect(client.idleConnectionCount == 0, "a close-delimited response cannot be followed by another")
        try await peer.value
        listener.close()
    }

    @Test("a server that never answers gives the client a timeout, not a hang")
    func clientTimeout() async throws {
        let listener = try TCPListener(host: "127.0.0.1", port: 0)
        var configuration = HTTPClientConfiguration()
        configuration.requestTimeout = .milliseconds(300)
        let client = HTTPClient(configuration: configuration)
        let start = ContinuousClock.now
        await #expect(throws: HTTPClientError.timedOut(url: "http://127.0.0.1:\(listener.localAddress.port)/", limit: .milliseconds(300))) {
            _ = try await client.get("http://127.0.0.1:\(listener.localAddress.port)/")
        }
        #expect(ContinuousClock.now - start < .seconds(60), "a 300 ms limit must not turn into a hang (a loose bound: a loaded machine may be slow)")
        listener.close()
    }

    @Test("a client that may connect to public addresses only refuses a name that resolves to loopback, as it connects")
    func permittedAddresses() async throws {
        try await withServer { _, address in
            let open = HTTPClient()
            let publicOnly = open.with { $0.permitsAddress = { !$0.isPrivateOrLocal } }
            let text = try await open.get("http://localhost:\(address.port)/hello").text
            #expect(text == "Hello, World!")
            for host in ["localhost", "127.0.0.1"] {
                await #expect(throws: HTTPClientError.addressNotPermitted(host: host)) {
                    _ = try await publicOnly.get("http://\(host):\(address.port)/hello")
                }
            }
            #expect(publicOnly.idleConnectionCount == 0 && open.idleConnectionCount == 1, "each client has its own pool")
            await publicOnly.shutdown()
            await open.shutdown()
        }
    }

    // A peer that promises keep-alive but closes after each answer: the pooled connection is
    // stale when the second request goes out, whatever the timing.
    @Test("a pooled connection the server closed is replaced for an idempotent request, not for a POST")
    func staleConnection() async throws {
        let listener = try TCPListener(host: "127.0.0.1", port: 0)
        let peer = Task {
            try await onThread {
            for _ in 0..<3 {
                let connection = try listener.accept(deadline: .after(.seconds(10)))
                _ = try connection.read(deadline: .after(.seconds(10)))
                try connection.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                connection.close()
            }
            }
        }
        let events = Locked<[String]>([])
        let client = HTTPClient(trace: { event in
            if case .retrying = event { events.withLock { $0.append("retry") } }
            if case .connected = event { events.withLock { $0.append("connect") } }
        })
        let url = "http://127.0.0.1:\(listener.localAddress.port)/"
        #expect(try await client.get(url).text == "ok")
        try await Task.sleep(for: .milliseconds(50))
        #expect(try await client.get(url).text == "ok")
        #expect(events.withLock { $0 } == ["connect", "retry", "connect"])
        // A POST on the stale connection is not repeated: it might have been processed.
        try await Task.sleep(for: .milliseconds(50))
        await #expect(throws: (any Error).self) { _ = try await client.post(url, body: Array("charge".utf8)) }
        await client.shutdown()
        listener.close()
        _ = try? await peer.value
    }

    @Test("URLs: hosts, ports, IPv6, targets, and the errors for bad ones")
    func urls() throws {
        let url = try HTTPURL("http://[::1]:8080/a?b=c#frag")
        #expect(url.host == "::1" && url.port == 8080 && url.target == "/a?b=c")
        #expect(url.hostField == "[::1]:8080")
        #expect(try HTTPURL("https://gw.example").port == 443)
        #expect(try HTTPURL("http://h?x").target == "/?x")
        for bad in ["ftp://x/", "http://", "http://h:0/", "http://h:99999/", "http://u:p@h/", "http://h/a b", "gw.example"] {
            #expect(throws: HTTPClientError.self, "\(bad)") { try HTTPURL(bad) }
        }
    }

    @Test("Basic authorization is base64(user:password)")
    func basicAuth() throws {
        var request = HTTPClientRequest(url: try HTTPURL("http://h/"))
        request.basicAuthorization(user: "SB-Mid-server-key")
        #expect(request.fields["Authorization"] == "Basic U0ItTWlkLXNlcnZlci1rZXk6")
    }

    // MARK: Real peers

    @Test("curl talks to the server and reuses its connection", .enabled(if: commandExists("curl")))
    func curl() async throws {
        try await withServer { _, address in
            let url = "http://127.0.0.1:\(address.port)/hello"
            let result = try await run("curl", ["-sv", "--max-time", "10", url, url])
            #expect(result.status == 0, "\(result.error)")
            #expect(result.output == "Hello, World!Hello, World!")
            #expect(result.error.contains("Re-using existing connection") || result.error.contains("Reusing existing connection"),
                    "curl did not reuse the connection:\n\(result.error)")
        }
    }

    @Test("Python's http.client talks to the server (keep-alive, POST, 404)", .enabled(if: commandExists("python3")))
    func pythonClient() async throws {
        try await withServer { _, address in
            let script = """
                import http.client, sys
                c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
                c.request("GET", "/hello"); r = c.getresponse(); a = r.read()
                c.request("POST", "/echo", body=b"from python"); r2 = c.getresponse(); b = r2.read()
                c.request("GET", "/missing"); r3 = c.getresponse(); r3.read()
                print(r.status, a.decode(), r2.status, b.decode(), r3.status)
                """
            let result = try await run("python3", ["-c", script, String(address.port)])
            #expect(result.status == 0, "\(result.error)")
            #expect(result.output == "200 Hello, World! 200 from python 404\n")
        }
    }

    @Test("the client talks to Python's http.server", .enabled(if: commandExists("python3")))
    func pythonServer() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-py-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data("served by python\n".utf8).write(to: directory.appendingPathComponent("hello.txt"))
        defer { try? FileManager.default.removeItem(at: directory) }
        let process = try ChildProcess(executable: "/usr/bin/env", arguments: ["python3", "-u", "-c", """
            import http.server, functools, sys
            handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
            print(server.server_address[1], flush=True)
            server.serve_forever()
            """, directory.path], separateStandardError: true)
        defer { process.send(SIGTERM) }
        let line = await process.readLine() ?? ""
        let port = try #require(UInt16(line), "python3 http.server did not print its port: \(process.errorOutput)")
        let client = HTTPClient()
        let response = try await client.get("http://127.0.0.1:\(port)/hello.txt")
        #expect(response.status == 200)
        #expect(response.text == "served by python\n")
        let missing = try await client.get("http://127.0.0.1:\(port)/nope")
        #expect(missing.status == 404)
        await client.shutdown()
    }
}
