import Foundation
import NetLabTestSupport
import NetLab
import TCPSocket
import TLSWrapper
import Testing

/// HTTP over TLS: the same server and client, with a TLSStream under them.
@Suite("HTTPS", .timeLimit(.minutes(3)))
struct HTTPSTests {
    final class LabPKI: Sendable {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-https-\(UUID().uuidString)").path
        let ca: LabCertificateAuthority
        let leaf: LabCertificateAuthority.Issued
        init() throws {
            ca = try LabCertificateAuthority(directory: directory)
            leaf = try ca.issue(name: "localhost")
        }
        deinit { try? FileManager.default.removeItem(atPath: directory) }

        func serverContext() throws -> TLSContext {
            var configuration = TLSConfiguration.server(certificateChainFile: leaf.certificatePath, privateKeyFile: leaf.privateKeyPath)
            configuration.keyLog = nil
            return try TLSContext(configuration)
        }

        func client(trace: (@Sendable (HTTPClientTraceEvent) -> Void)? = nil) throws -> HTTPClient {
            var configuration = HTTPClientConfiguration()
            configuration.tls = try TLSContext(.client(trustRootsFile: ca.certificatePath))
            return HTTPClient(configuration: configuration, trace: trace)
        }
    }

    @Test("HTTPClient ⇄ HTTPServer over TLS: verified, ALPN http/1.1, keep-alive reused")
    func clientServer() async throws {
        let pki = try LabPKI()
        let server = HTTPServer(router: testRouter())
        let address = try await server.start(host: "127.0.0.1", port: 0, tls: try pki.serverContext())
        let handshakes = Locked<[TLSConnectionFacts]>([])
        let client = try pki.client(trace: { event in
            if case .tlsEstablished(let facts) = event { handshakes.withLock { $0.append(facts) } }
        })
        let base = "https://localhost:\(address.port)"
        #expect(try await client.get(base + "/hello").text == "Hello, World!")
        #expect(try await client.post(base + "/echo", body: Array("over TLS".utf8)).text == "over TLS")
        let facts = handshakes.withLock { $0 }
        #expect(facts.count == 1, "the second request reused the TLS connection")
        #expect(facts.first?.applicationProtocol == "http/1.1")
        #expect(facts.first?.peerCertificate?.subject.contains("CN=localhost") == true)
        await client.shutdown()
        await server.shutdown()
    }

    @Test("a client's exchange runs on an event loop: with the caller's own thread held, its TLS handshake and request still complete")
    func exchangeNeedsNoCallerThread() async throws {
        // Why it matters: the caller's thread may be one of the cooperative pool's few, busy
        // with other work; a handshake that waited for it would run out the server's deadline.
        let pki = try LabPKI()
        let reached = DispatchSemaphore(value: 0)
        var router = Router()
        router.get("/reached") { _ in
            reached.signal()
            return .text("here")
        }
        let server = HTTPServer(router: router)
        let address = try await server.start(host: "127.0.0.1", port: 0, tls: try pki.serverContext())
        let client = try pki.client()
        let caller = try EventLoopGroup(loopCount: 1, name: "held-caller")
        defer { caller.shutdown() }
        let thread = caller.next()
        // The request starts on the caller's thread; the closure queued after it then holds that
        // thread until the server has the request (at most 30 s: then the check fails).
        let request = Task(executorPreference: thread) { try await client.get("https://localhost:\(address.port)/reached") }
        let reachedWhileHeld = await withCheckedContinuation { continuation in
            thread.execute { continuation.resume(returning: reached.wait(timeout: .now() + 30) == .success) }
        }
        #expect(reachedWhileHeld, "the request reached the server only once the caller's thread was free")
        #expect(try await request.value.text == "here")
        await client.shutdown()
        await server.shutdown()
    }

    @Test("a streamed HTTPS response that breaks off ends with no close_notify: the client sees a truncation, never a clean end")
    func brokenStreamIsNotACleanEnd() async throws {
        let pki = try LabPKI()
        var router = Router()
        router.get("/broken") { _ in
            .stream { writer in
                try await writer.write("part 1\n")
                throw HTTPError(status: 500, message: "the producer failed midway")
            }
        }
        let server = HTTPServer(router: router)
        let address = try await server.start(host: "127.0.0.1", port: 0, tls: try pki.serverContext())
        var configuration = TLSConfiguration.client(trustRootsFile: pki.ca.certificatePath)
        configuration.keyLog = nil
        let context = try TLSContext(configuration)
        // Connected and handshaken on an event loop, as HTTPClient does: between the two, the
        // server's handshake deadline runs, and this task's own threads may be busy elsewhere.
        let tls = try await withTaskExecutorPreference(EventLoopGroup.shared.next()) {
            let tcp = try await AsyncTCPConnection.connect(host: "127.0.0.1", port: address.port, timeout: .seconds(10))
            return try await TLSStream.connect(over: tcp, context: context, serverName: "localhost")
        }
        // HTTP/1.0: the body is close-delimited, so only the way the connection ends tells a
        // complete body from a truncated one.
        try await tls.write("GET /broken HTTP/1.0\r\nHost: localhost\r\n\r\n")
        var received: [UInt8] = []
        do {
            while case .bytes = try await tls.read(into: &received, maxBytes: 4096, deadline: .after(.seconds(10))) {}
            Issue.record("a clean end of stream after a broken body: \(String(decoding: received, as: UTF8.self))")
        } catch {
            let truncated = (error as? TLSError) == .closedWithoutCloseNotify
            let reset: Bool = if case .connectionReset = error as? SocketError { true } else { false }
            #expect(truncated || reset, "\(error)")
        }
        await tls.close()
        await server.shutdown()
    }

    @Test("a client that does not trust the server's CA refuses to talk")
    func untrusted() async throws {
        let pki = try LabPKI()
        let stranger = try LabPKI()
        let server = HTTPServer(router: testRouter())
        let address = try await server.start(host: "127.0.0.1", port: 0, tls: try pki.serverContext())
        let client = try stranger.client()
        await #expect {
            _ = try await client.get("https://localhost:\(address.port)/hello")
        } throws: { error in
            if case .unknownCertificateAuthority = error as? TLSError { return true }
            return false
        }
        await client.shutdown()
        await server.shutdown()
    }

    @Test("curl --cacert talks to the HTTPS server", .enabled(if: commandExists("curl")))
    func curl() async throws {
        let pki = try LabPKI()
        let server = HTTPServer(router: testRouter())
        let address = try await server.start(host: "127.0.0.1", port: 0, tls: try pki.serverContext())
        let url = "https://localhost:\(address.port)/hello"
        let result = try await run("curl", ["-sv", "--max-time", "10", "--cacert", pki.ca.certificatePath, url, url])
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output == "Hello, World!Hello, World!")
        #expect(result.error.contains("SSL certificate verify ok"), "\(result.error)")
        await server.shutdown()
    }

    @Test("openssl s_client verifies the server and gets an answer", .enabled(if: commandExists("openssl")))
    func opensslClient() async throws {
        let pki = try LabPKI()
        let server = HTTPServer(router: testRouter())
        let address = try await server.start(host: "127.0.0.1", port: 0, tls: try pki.serverContext())
        let result = try await run(
            "openssl",
            ["s_client", "-connect", "127.0.0.1:\(address.port)", "-servername", "localhost", "-CAfile", pki.ca.certificatePath,
             "-verify_return_error", "-verify_hostname", "localhost", "-alpn", "http/1.1", "-ign_eof"],
            input: "GET /hello HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        #expect(result.output.contains("Verification: OK"), "\(result.output)\n\(result.error)")
        #expect(result.output.contains("ALPN protocol: http/1.1"))
        #expect(result.output.contains("Hello, World!"))
        await server.shutdown()
    }

    @Test("the client verifies and talks to openssl s_server", .enabled(if: commandExists("openssl")))
    func opensslServer() async throws {
        let pki = try LabPKI()
        let port = try TCPListener(host: "127.0.0.1", port: 0).localAddress.port  // a free port (closed again)
        // interactive: s_server quits when its standard input ends, so it is kept open.
        let process = try ChildProcess(
            executable: "/usr/bin/env",
            arguments: ["openssl", "s_server", "-accept", "127.0.0.1:\(port)", "-cert", pki.leaf.certificatePath,
                        "-key", pki.leaf.privateKeyPath, "-www", "-naccept", "1", "-alpn", "http/1.1"],
            interactive: true)
        defer {
            process.send(SIGTERM)
            process.closeInput()
        }
        let client = try pki.client()
        var response: HTTPClientResponse?
        for _ in 0..<50 where response == nil {  // until s_server listens
            response = try? await client.get("https://localhost:\(port)/")
            if response == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(response?.status == 200)
        #expect(response?.text.contains("Ciphers supported in s_server binary") == true)
        await client.shutdown()
    }
}

@Suite("HTTPS with Python", .timeLimit(.minutes(3)))
struct HTTPSPythonTests {
    @Test("Python's ssl + http.client verify and talk to the HTTPS server", .enabled(if: commandExists("python3")))
    func pythonClient() async throws {
        let pki = try HTTPSTests.LabPKI()
        let server = HTTPServer(router: testRouter())
        let address = try await server.start(host: "127.0.0.1", port: 0, tls: try pki.serverContext())
        let script = """
            import http.client, ssl, sys
            context = ssl.create_default_context(cafile=sys.argv[2])
            c = http.client.HTTPSConnection("localhost", int(sys.argv[1]), context=context, timeout=10)
            c.request("GET", "/hello"); r = c.getresponse(); body = r.read()
            print(r.status, body.decode(), c.sock.version(), c.sock.selected_alpn_protocol())
            """
        let result = try await run("python3", ["-c", script, String(address.port), pki.ca.certificatePath])
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output.hasPrefix("200 Hello, World! TLSv1.3"), "\(result.output)")
        await server.shutdown()
    }
}

@Suite("TLS session resumption", .timeLimit(.minutes(3)))
struct ResumptionTests {
    @Test("the second connection to a server resumes the first one's session")
    func resumed() async throws {
        let pki = try HTTPSTests.LabPKI()
        let server = HTTPServer(router: testRouter())
        let address = try await server.start(host: "127.0.0.1", port: 0, tls: try pki.serverContext())
        let handshakes = Locked<[Bool]>([])
        var configuration = HTTPClientConfiguration()
        configuration.tls = try TLSContext(.client(trustRootsFile: pki.ca.certificatePath))
        configuration.maxIdleConnectionsPerHost = 0  // a new connection (and handshake) per request
        let client = HTTPClient(configuration: configuration, trace: { event in
            if case .tlsEstablished(let facts) = event { handshakes.withLock { $0.append(facts.resumed) } }
        })
        for _ in 0..<3 { #expect(try await client.get("https://localhost:\(address.port)/hello").status == 200) }
        #expect(handshakes.withLock { $0 } == [false, true, true])
        await client.shutdown()
        await server.shutdown()
    }
}

@Suite("Wiretap", .timeLimit(.minutes(3)))
struct WiretapTests {
    static let card = "4811111111111114"

    /// A client whose connections pass a TCP-level tap (and TLS above it for https URLs).
    static func tappedClient(_ tap: Wiretap, tls: TLSContext?) -> HTTPClient {
        HTTPClient(connector: { url, deadline, client in
            let tcp = try await client.connectTCP(url, deadline: deadline)
            let tapped = tap.tapping(tcp)
            guard url.scheme == .https, let tls else { return tapped }
            return try await TLSStream.connect(over: tapped, context: tls, serverName: url.host, deadline: deadline)
        })
    }

    @Test("with TLS on, the card number never appears on the TCP tap; with TLS off it does")
    func secretOnTheWire() async throws {
        let pki = try HTTPSTests.LabPKI()
        let body = Array("{\"card_number\":\"\(Self.card)\",\"cvv\":\"123\"}".utf8)

        let secure = HTTPServer(router: testRouter())
        let secureAddress = try await secure.start(host: "127.0.0.1", port: 0, tls: try pki.serverContext())
        let encryptedTap = Wiretap(layer: "tcp")
        let tlsClient = Self.tappedClient(encryptedTap, tls: try TLSContext(.client(trustRootsFile: pki.ca.certificatePath)))
        let echoed = try await tlsClient.post("https://localhost:\(secureAddress.port)/echo", body: body)
        #expect(echoed.body == body, "the server did get the card number")
        #expect(!encryptedTap.records.isEmpty)
        #expect(!encryptedTap.saw(Self.card), "the card number crossed TCP in clear despite TLS")
        await tlsClient.shutdown()
        await secure.shutdown()

        let plain = HTTPServer(router: testRouter())
        let plainAddress = try await plain.start(host: "127.0.0.1", port: 0)
        let clearTap = Wiretap(layer: "tcp")
        let plainClient = Self.tappedClient(clearTap, tls: nil)
        _ = try await plainClient.post("http://127.0.0.1:\(plainAddress.port)/echo", body: body)
        #expect(clearTap.saw(Self.card), "without TLS anyone on the path reads the card number")
        await plainClient.shutdown()
        await plain.shutdown()
    }
}

@Suite("Key log and a real capture", .serialized, .timeLimit(.minutes(3)))
struct KeyLogCaptureTests {
    @Test("the key log written during an exchange lets tshark decrypt its capture", .enabled(if: commandExists("tshark") && commandExists("dumpcap")))
    func tsharkDecrypts() async throws {
        let pki = try HTTPSTests.LabPKI()
        let server = HTTPServer(router: testRouter())
        let address = try await server.start(host: "127.0.0.1", port: 0, tls: try pki.serverContext())
        let capture = pki.directory + "/capture.pcap"
        let keyLogPath = pki.directory + "/keys.log"

        // dumpcap (tshark's capture engine) on loopback, only this test's port; wait until it
        // really captures. -a duration: a capture that is never stopped still ends by itself.
        let tshark = try ChildProcess(
            executable: "/usr/bin/env", arguments: ["dumpcap", "-q", "-i", "lo", "-f", "tcp port \(address.port)", "-a", "duration:60", "-w", capture],
            separateStandardError: true)
        var started = false
        for _ in 0..<3000 where tshark.exited == nil {
            if tshark.errorOutput.contains("Capture started") || tshark.errorOutput.contains("Capturing on") { started = true; break }
            try await Task.sleep(for: .milliseconds(10))
        }
        if !started { tshark.send(SIGKILL) }
        try #require(started, "dumpcap did not start capturing: \(tshark.errorOutput)")
        try await Task.sleep(for: .milliseconds(300))

        let lines = Locked<[String]>([])
        var tls = TLSConfiguration.client(trustRootsFile: pki.ca.certificatePath)
        tls.keyLog = { line in lines.withLock { $0.append(line) } }
        var configuration = HTTPClientConfiguration()
        configuration.tls = try TLSContext(tls)
        let client = HTTPClient(configuration: configuration)
        let secret = "order-\(UUID().uuidString)"
        _ = try await client.post("https://localhost:\(address.port)/echo", body: Array(secret.utf8))
        await client.shutdown()
        await server.shutdown()
        try await Task.sleep(for: .milliseconds(500))
        // SIGINT makes dumpcap finish the file.
        tshark.send(SIGINT)
        if await tshark.wait(timeout: .seconds(5)) == nil {
            tshark.send(SIGKILL)
            _ = await tshark.wait(timeout: .seconds(5))
        }
        try Data((lines.withLock { $0 }.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: keyLogPath))

        let decrypted = try await run("tshark", [
            "-r", capture, "-o", "tls.keylog_file:\(keyLogPath)", "-d", "tcp.port==\(address.port),tls", "-Y", "http",
            "-T", "fields", "-e", "http.file_data",
        ])
        #expect(decrypted.output.contains(secret), "tshark could not decrypt with the key log:\n\(decrypted.output)\n\(decrypted.error)")
        let opaque = try await run("tshark", ["-r", capture, "-d", "tcp.port==\(address.port),tls", "-Y", "http", "-T", "fields", "-e", "http.file_data"])
        #expect(!opaque.output.contains(secret), "the capture was readable without the key log")
    }
}
