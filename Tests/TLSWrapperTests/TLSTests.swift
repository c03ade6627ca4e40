import Foundation
import NetLabTestSupport
import TCPSocket
import Testing

@testable import TLSWrapper

/// Runs a command to completion on a thread of its own (never on the cooperative pool) and
/// returns its status and combined output (``ChildProcess``: see why not Foundation's `Process`).
func runOnThread(_ path: String, _ arguments: [String]) async throws -> (Int32, String) {
    let child = try ChildProcess(executable: path, arguments: arguments)
    return (await child.wait()?.code ?? -1, child.output)
}

/// A lab CA and certificates in a fresh temporary directory.
final class Fixtures: Sendable {
    let directory: String
    let ca: LabCertificateAuthority
    let server: LabCertificateAuthority.Issued

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-tls-\(UUID().uuidString)").path
        ca = try LabCertificateAuthority(directory: directory)
        server = try ca.issue(name: "localhost")
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    func serverContext(_ issued: LabCertificateAuthority.Issued? = nil, change: (inout TLSConfiguration) -> Void = { _ in }) throws -> TLSContext {
        let leaf = issued ?? server
        var configuration = TLSConfiguration.server(certificateChainFile: leaf.certificatePath, privateKeyFile: leaf.privateKeyPath)
        configuration.keyLog = nil
        change(&configuration)
        return try TLSContext(configuration)
    }

    func clientContext(change: (inout TLSConfiguration) -> Void = { _ in }) throws -> TLSContext {
        var configuration = TLSConfiguration.client(trustRootsFile: ca.certificatePath)
        configuration.keyLog = nil
        change(&configuration)
        return try TLSContext(configuration)
    }
}

/// Runs a TLS server over one end of a socketpair and a client over the other.
func handshakePair(
    server serverContext: TLSContext, client clientContext: TLSContext, serverName: String?
) async throws -> (client: TLSStream, server: Task<TLSStream, any Error>) {
    let (a, b) = try SocketPair.makeStreams()
    let server = Task(executorPreference: b.loop) { try await TLSStream.accept(over: b, context: serverContext, deadline: .after(.seconds(20))) }
    do {
        let client = try await TLSStream.connect(over: a, context: clientContext, serverName: serverName, deadline: .after(.seconds(20)))
        return (client, server)
    } catch {
        await a.close()
        _ = try? await server.value
        await b.close()
        throw error
    }
}

@Suite("Lab certificate authority", .timeLimit(.minutes(3)))
struct LabCATests {
    @Test("a CA and a leaf are made in-process, keys 0600, reused when present")
    func createAndReuse() throws {
        let fixtures = try Fixtures()
        let attributes = try FileManager.default.attributesOfItem(atPath: fixtures.ca.privateKeyPath)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let leafKey = try FileManager.default.attributesOfItem(atPath: fixtures.server.privateKeyPath)
        #expect((leafKey[.posixPermissions] as? Int) == 0o600)
        let before = try Data(contentsOf: URL(fileURLWithPath: fixtures.ca.certificatePath))
        let again = try LabCertificateAuthority(directory: fixtures.directory)
        #expect(try Data(contentsOf: URL(fileURLWithPath: again.certificatePath)) == before)
        let summary = try LabCertificateAuthority.summary(ofCertificateAt: fixtures.server.certificatePath)
        #expect(summary.subject.contains("CN=localhost"))
        #expect(summary.issuer.contains("CN=NetLab Lab CA"))
        #expect(summary.subjectAlternativeNames == ["DNS:localhost", "IP:127.0.0.1", "IP:::1"])
    }

    @Test("openssl verify -x509_strict accepts the lab's certificates", .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl")))
    func strictVerify() async throws {
        let fixtures = try Fixtures()
        let (status, output) = try await runOnThread("/usr/bin/openssl", ["verify", "-x509_strict", "-CAfile", fixtures.ca.certificatePath, fixtures.server.certificatePath])
        #expect(status == 0, "\(output)")
    }
}

@Suite("TLSStream", .timeLimit(.minutes(3)))
struct TLSStreamTests {
    @Test("handshake, ALPN, SNI, data both ways, and a clean close_notify")
    func roundTrip() async throws {
        let fixtures = try Fixtures()
        let (client, serverTask) = try await handshakePair(
            server: try fixtures.serverContext(), client: try fixtures.clientContext(), serverName: "localhost")
        let server = try await serverTask.value
        #expect(client.facts.version == "TLSv1.3")
        #expect(client.facts.applicationProtocol == "http/1.1")
        #expect(server.facts.serverName == "localhost")
        #expect(client.facts.peerCertificate?.subject.contains("CN=localhost") == true)
        try await client.write("card 4811 1111 1111 1114")
        #expect(try await server.readExactly(24, deadline: .after(.seconds(20))) == Array("card 4811 1111 1111 1114".utf8))
        let big = (0..<200_000).map { UInt8(truncatingIfNeeded: $0) }
        async let sent: Void = server.write(big, deadline: .after(.seconds(10)))
        #expect(try await client.readExactly(big.count, deadline: .after(.seconds(10))) == big)
        try await sent
        await client.close()
        var buffer: [UInt8] = []
        #expect(try await server.read(into: &buffer, maxBytes: 100, deadline: .after(.seconds(20))) == .endOfStream)
        await server.close()
    }

    @Test("an IP address is checked against the certificate's IP SANs")
    func ipAddress() async throws {
        let fixtures = try Fixtures()
        let (client, serverTask) = try await handshakePair(
            server: try fixtures.serverContext(), client: try fixtures.clientContext(), serverName: "127.0.0.1")
        #expect(client.facts.peerCertificate != nil)
        let server = try await serverTask.value
        await client.close()
        await server.close()
    }

    @Test("an IP address outside the certificate's SANs is refused")
    func wrongIP() async throws {
        let fixtures = try Fixtures()
        await #expect {
            _ = try await handshakePair(server: try fixtures.serverContext(), client: try fixtures.clientContext(), serverName: "127.0.0.2")
        } throws: { error in
            if case .hostnameMismatch = error as? TLSError { return true }
            return false
        }
    }

    @Test("a verifying client without a server name is a configuration error, not an unchecked connection", arguments: [nil, ""] as [String?])
    func noServerName(name: String?) throws {
        let fixtures = try Fixtures()
        #expect(throws: TLSError.self) { _ = try TLSEngine(context: try fixtures.clientContext(), serverName: name) }
    }

    @Test("a handshake runs on its connection's event loop: with the caller's own thread held, it still completes")
    func handshakeNeedsNoCallerThread() async throws {
        // The caller's thread may be one of the cooperative pool's few, busy elsewhere while the
        // server's handshake deadline runs; the rounds must not wait for it.
        let fixtures = try Fixtures()
        let (a, b) = try SocketPair.makeStreams()
        let serverContext = try fixtures.serverContext(), clientContext = try fixtures.clientContext()
        let accepted = DispatchSemaphore(value: 0)
        let server = Task(executorPreference: b.loop) {
            let stream = try await TLSStream.accept(over: b, context: serverContext, deadline: .after(.seconds(20)))
            accepted.signal()
            return stream
        }
        let caller = try EventLoopGroup(loopCount: 1, name: "held-caller")
        defer { caller.shutdown() }
        let thread = caller.next()
        // The handshake starts on the caller's thread; the closure queued after it then holds
        // that thread until the server has finished its side (at most 30 s: then the check fails).
        let client = Task(executorPreference: thread) {
            try await TLSStream.connect(over: a, context: clientContext, serverName: "localhost", deadline: .after(.seconds(20)))
        }
        let acceptedWhileHeld = await withCheckedContinuation { continuation in
            thread.execute { continuation.resume(returning: accepted.wait(timeout: .now() + 30) == .success) }
        }
        #expect(acceptedWhileHeld, "the handshake finished only once the caller's thread was free")
        await (try? client.value)?.close()
        await (try? server.value)?.close()
        await a.close()
        await b.close()
    }

    @Test("both sides writing large payloads at once never deadlock (reads do not wait behind writes)")
    func fullDuplex() async throws {
        let fixtures = try Fixtures()
        let (client, serverTask) = try await handshakePair(
            server: try fixtures.serverContext(), client: try fixtures.clientContext(), serverName: "localhost")
        let server = try await serverTask.value
        let payload = [UInt8](repeating: 0xAB, count: 8 << 20)
        async let clientSends: Void = client.write(payload, deadline: .after(.seconds(30)))
        async let serverSends: Void = server.write(payload, deadline: .after(.seconds(30)))
        async let clientReads = client.readExactly(payload.count, deadline: .after(.seconds(30)))
        async let serverReads = server.readExactly(payload.count, deadline: .after(.seconds(30)))
        try await clientSends
        try await serverSends
        #expect(try await clientReads == payload)
        #expect(try await serverReads == payload)
        await client.close()
        await server.close()
    }

    @Test("a certificate for another name is refused: hostnameMismatch")
    func wrongHost() async throws {
        let fixtures = try Fixtures()
        await #expect {
            _ = try await handshakePair(server: try fixtures.serverContext(), client: try fixtures.clientContext(), serverName: "gateway.test")
        } throws: { error in
            if case .hostnameMismatch(let expected, _) = error as? TLSError { return expected == "gateway.test" }
            return false
        }
    }

    @Test("a CA the client does not trust is refused: unknownCertificateAuthority")
    func unknownCA() async throws {
        let fixtures = try Fixtures()
        let other = try Fixtures()
        await #expect {
            _ = try await handshakePair(server: try fixtures.serverContext(), client: try other.clientContext(), serverName: "localhost")
        } throws: { error in
            if case .unknownCertificateAuthority = error as? TLSError { return true }
            return false
        }
    }

    @Test("expired and not-yet-valid certificates are refused with their own errors")
    func validity() async throws {
        let fixtures = try Fixtures()
        let expired = try fixtures.ca.issue(name: "expired", extraNames: ["localhost"], validFromDays: -30, validDays: 10)
        let future = try fixtures.ca.issue(name: "future", extraNames: ["localhost"], validFromDays: 10, validDays: 10)
        await #expect {
            _ = try await handshakePair(server: try fixtures.serverContext(expired), client: try fixtures.clientContext(), serverName: "localhost")
        } throws: { error in
            if case .certificateExpired = error as? TLSError { return true }
            return false
        }
        await #expect {
            _ = try await handshakePair(server: try fixtures.serverContext(future), client: try fixtures.clientContext(), serverName: "localhost")
        } throws: { error in
            if case .certificateNotYetValid = error as? TLSError { return true }
            return false
        }
    }

    @Test("turning verification off (the loud option) accepts anyone — which is the danger")
    func verificationOff() async throws {
        let fixtures = try Fixtures()
        let stranger = try Fixtures()
        let client = try stranger.clientContext { $0.certificateVerification = .noneDangerous }
        let (stream, serverTask) = try await handshakePair(server: try fixtures.serverContext(), client: client, serverName: "anything.test")
        let server = try await serverTask.value
        await stream.close()
        await server.close()
    }

    @Test("a peer that drops TCP without close_notify is reported as truncation, not end of stream")
    func truncation() async throws {
        let fixtures = try Fixtures()
        let (client, serverTask) = try await handshakePair(
            server: try fixtures.serverContext(), client: try fixtures.clientContext(), serverName: "localhost")
        let server = try await serverTask.value
        try await server.write("partial")
        await server.underlying.close()  // the transport goes away without a close_notify
        #expect(try await client.readExactly(7, deadline: .after(.seconds(20))) == Array("partial".utf8))
        var buffer: [UInt8] = []
        await #expect(throws: TLSError.closedWithoutCloseNotify) {
            _ = try await client.read(into: &buffer, maxBytes: 10, deadline: .after(.seconds(20)))
        }
        await client.close()
    }

    @Test("mutual TLS: a client without a certificate is refused; with one it is accepted")
    func mutualTLS() async throws {
        let fixtures = try Fixtures()
        let clientLeaf = try fixtures.ca.issue(name: "merchant.test", extraNames: [])
        let server = try fixtures.serverContext { $0.trustRootsFile = fixtures.ca.certificatePath; $0.requireClientCertificate = true }
        // TLS 1.3: the refusal reaches the client on its first read, not in its handshake.
        let anonymous = try await handshakePair(server: server, client: try fixtures.clientContext(), serverName: "localhost")
        var buffer: [UInt8] = []
        await #expect {
            _ = try await anonymous.client.read(into: &buffer, maxBytes: 10, deadline: .after(.seconds(20)))
        } throws: { error in
            if case .handshakeFailed(let detail) = error as? TLSError { return detail.contains("certificate required") }
            return false
        }
        _ = try? await anonymous.server.value
        await anonymous.client.close()
        let withCertificate = try fixtures.clientContext {
            $0.certificateChainFile = clientLeaf.certificatePath
            $0.privateKeyFile = clientLeaf.privateKeyPath
        }
        let (client, serverTask) = try await handshakePair(server: server, client: withCertificate, serverName: "localhost")
        let accepted = try await serverTask.value
        #expect(accepted.facts.peerCertificate?.subject.contains("CN=merchant.test") == true)
        await client.close()
        await accepted.close()
    }

    @Test("key logging writes NSS key-log lines (what Wireshark reads)")
    func keyLog() async throws {
        let fixtures = try Fixtures()
        let lines = Locked<[String]>([])
        let client = try fixtures.clientContext { configuration in
            configuration.keyLog = { line in lines.withLock { $0.append(line) } }
        }
        let (stream, serverTask) = try await handshakePair(server: try fixtures.serverContext(), client: client, serverName: "localhost")
        let labels = Set(lines.withLock { $0 }.compactMap { $0.split(separator: " ").first.map(String.init) })
        #expect(labels.contains("CLIENT_HANDSHAKE_TRAFFIC_SECRET"))
        #expect(labels.contains("CLIENT_TRAFFIC_SECRET_0"))
        let server = try await serverTask.value
        await stream.close()
        await server.close()
    }

    @Test("a server needs a certificate and key that match")
    func configurationErrors() throws {
        let fixtures = try Fixtures()
        let other = try fixtures.ca.issue(name: "other.test", extraNames: [])
        #expect(throws: TLSError.self) { _ = try TLSContext(TLSConfiguration(role: .server)) }
        // Client certificates checked against the system store would let anyone in.
        #expect(throws: TLSError.self) {
            var configuration = TLSConfiguration.server(certificateChainFile: fixtures.server.certificatePath, privateKeyFile: fixtures.server.privateKeyPath)
            configuration.requireClientCertificate = true
            _ = try TLSContext(configuration)
        }
        #expect(throws: TLSError.self) {
            _ = try TLSContext(.server(certificateChainFile: fixtures.server.certificatePath, privateKeyFile: other.privateKeyPath))
        }
    }
}

@Suite("TLSEngine in memory", .timeLimit(.minutes(3)))
struct TLSEngineTests {
    /// Moves ciphertext between two engines until neither has anything to say.
    static func pump(_ a: TLSEngine, _ b: TLSEngine) {
        for _ in 0..<20 {
            let ab = a.takeForNetwork()
            let ba = b.takeForNetwork()
            if ab.isEmpty && ba.isEmpty { return }
            b.receiveFromNetwork(ab)
            a.receiveFromNetwork(ba)
            _ = try? a.handshake()
            _ = try? b.handshake()
        }
    }

    @Test("two engines handshake and exchange records with no socket at all")
    func engineToEngine() throws {
        let fixtures = try Fixtures()
        let client = try TLSEngine(context: try fixtures.clientContext(), serverName: "localhost")
        let server = try TLSEngine(context: try fixtures.serverContext())
        #expect(try client.handshake() == .needsInput)
        Self.pump(client, server)
        #expect(try client.handshake() == .complete)
        #expect(try server.handshake() == .complete)
        try client.write(Array("hello over memory BIOs".utf8))
        let record = client.takeForNetwork()
        #expect(!record.isEmpty)
        #expect(!String(decoding: record, as: UTF8.self).contains("hello"), "the record is ciphertext")
        server.receiveFromNetwork(record)
        var plaintext: [UInt8] = []
        #expect(try server.read(into: &plaintext, maxBytes: 100) == .bytes(22))
        #expect(String(decoding: plaintext, as: UTF8.self) == "hello over memory BIOs")
        client.shutdown()
        server.receiveFromNetwork(client.takeForNetwork())
        plaintext.removeAll()
        #expect(try server.read(into: &plaintext, maxBytes: 100) == .closed)
    }

    /// A client and server engine with the handshake done.
    static func connectedPair(_ fixtures: Fixtures, client: TLSContext? = nil, server: TLSContext? = nil) throws
        -> (client: TLSEngine, server: TLSEngine)
    {
        let client = try TLSEngine(context: try client ?? fixtures.clientContext(), serverName: "localhost")
        let server = try TLSEngine(context: try server ?? fixtures.serverContext())
        _ = try client.handshake()
        pump(client, server)
        #expect(try client.handshake() == .complete)
        #expect(try server.handshake() == .complete)
        return (client, server)
    }

    @Test("one read takes every whole record already received, as far as maxBytes allows")
    func severalRecordsPerRead() throws {
        let fixtures = try Fixtures()
        let (client, server) = try Self.connectedPair(fixtures)
        for letter in ["a", "b", "c"] { try client.write(Array(repeating: UInt8(ascii: Unicode.Scalar(letter)!), count: 100)) }
        server.receiveFromNetwork(client.takeForNetwork())  // three records at once
        var plaintext: [UInt8] = []
        #expect(try server.read(into: &plaintext, maxBytes: 250) == .bytes(250))
        #expect(try server.read(into: &plaintext, maxBytes: 250) == .bytes(50))
        #expect(String(decoding: plaintext, as: UTF8.self) == String(repeating: "a", count: 100) + String(repeating: "b", count: 100) + String(repeating: "c", count: 100))
        #expect(try server.read(into: &plaintext, maxBytes: 250) == .needsInput)
    }

    @Test("plaintext before a damaged record is returned first; the next read throws protocolError")
    func failureAfterPlaintext() throws {
        let fixtures = try Fixtures()
        let (client, server) = try Self.connectedPair(fixtures)
        try client.write(Array("intact".utf8))
        try client.write(Array("damaged".utf8))
        var wire = client.takeForNetwork()
        wire[wire.count - 1] ^= 0x01  // the last byte of the second record's tag
        server.receiveFromNetwork(wire)
        var plaintext: [UInt8] = []
        #expect(try server.read(into: &plaintext, maxBytes: 100) == .bytes(6))
        #expect(String(decoding: plaintext, as: UTF8.self) == "intact")
        #expect {
            try server.read(into: &plaintext, maxBytes: 100)
        } throws: { error in
            if case .protocolError = error as? TLSError { return true }
            return false
        }
        #expect(throws: TLSError.closed) { try server.read(into: &plaintext, maxBytes: 100) }
    }

    @Test("data then close_notify in one delivery: the data, then the end")
    func dataThenCloseNotify() throws {
        let fixtures = try Fixtures()
        let (client, server) = try Self.connectedPair(fixtures)
        try client.write(Array("last words".utf8))
        client.shutdown()
        server.receiveFromNetwork(client.takeForNetwork())
        var plaintext: [UInt8] = []
        #expect(try server.read(into: &plaintext, maxBytes: 100) == .bytes(10))
        #expect(try server.read(into: &plaintext, maxBytes: 100) == .closed)
    }

    @Test("tickets resume the next connection; resumesSessions = false makes every handshake full", arguments: [true, false])
    func resumption(resumes: Bool) throws {
        let fixtures = try Fixtures()
        let context = try fixtures.clientContext { $0.resumesSessions = resumes }
        let serverContext = try fixtures.serverContext()  // one server: its ticket keys decrypt its tickets
        let first = try Self.connectedPair(fixtures, client: context, server: serverContext)
        var plaintext: [UInt8] = []
        #expect(try first.client.read(into: &plaintext, maxBytes: 100) == .needsInput)  // takes the tickets
        #expect(first.client.sessionTicketsReceived == (resumes ? 2 : 0))
        let second = try Self.connectedPair(fixtures, client: context, server: serverContext)
        #expect(second.client.facts.resumed == resumes)
    }

    @Test("no common ALPN protocol is classified by OpenSSL's reason code: noApplicationProtocol")
    func noCommonApplicationProtocol() throws {
        let fixtures = try Fixtures()
        let client = try TLSEngine(context: try fixtures.clientContext { $0.applicationProtocols = ["netlab-test/1"] }, serverName: "localhost")
        let server = try TLSEngine(context: try fixtures.serverContext { $0.applicationProtocols = ["h2"] })
        _ = try client.handshake()
        server.receiveFromNetwork(client.takeForNetwork())
        #expect {
            try server.handshake()
        } throws: { error in
            if case .noApplicationProtocol = error as? TLSError { return true }
            return false
        }
    }
}

@Suite("WriteTurn")
struct WriteTurnTests {
    @Test("a free turn is taken without waiting; a held one is handed to waiters first come, first served")
    func firstComeFirstServed() async throws {
        let turn = WriteTurn()
        #expect(turn.tryTake())
        #expect(!turn.tryTake())
        let order = Locked<[Int]>([])
        var waiters: [Task<Void, Never>] = []
        for index in 0..<3 {
            waiters.append(Task {
                await turn.take()
                order.withLock { $0.append(index) }
                turn.release()
            })
            // The next waiter starts only once this one is queued.
            while turn.waitingCount < index + 1 { await Task.yield() }
        }
        turn.release()
        for waiter in waiters { await waiter.value }
        #expect(order.withLock { $0 } == [0, 1, 2])
        #expect(turn.tryTake(), "the last release left the turn free")
    }
}

/// badssl.com's idea with the lab CA: one broken certificate per failure, each with its own error.
@Suite("Certificate matrix", .timeLimit(.minutes(3)))
struct CertificateMatrixTests {
    static func failure(server: TLSContext, client: TLSContext, name: String = "localhost") async -> TLSError? {
        do {
            let (stream, serverTask) = try await handshakePair(server: server, client: client, serverName: name)
            _ = try? await serverTask.value
            await stream.close()
            return nil
        } catch {
            return error as? TLSError
        }
    }

    @Test("self-signed leaf → selfSignedCertificate")
    func selfSigned() async throws {
        let fixtures = try Fixtures()
        let bad = try fixtures.ca.issueDefective(name: "localhost", defect: .selfSigned)
        let error = await Self.failure(server: try fixtures.serverContext(bad), client: try fixtures.clientContext())
        guard case .selfSignedCertificate? = error else { Issue.record("got \(String(describing: error))"); return }
    }

    @Test("no subjectAltName (only a CN) → hostnameMismatch: names come from SANs only")
    func missingSAN() async throws {
        let fixtures = try Fixtures()
        let bad = try fixtures.ca.issueDefective(name: "localhost", defect: .noSubjectAlternativeName)
        let error = await Self.failure(server: try fixtures.serverContext(bad), client: try fixtures.clientContext())
        guard case .hostnameMismatch? = error else { Issue.record("got \(String(describing: error))"); return }
    }

    @Test("the good certificate succeeds")
    func good() async throws {
        let fixtures = try Fixtures()
        #expect(await Self.failure(server: try fixtures.serverContext(), client: try fixtures.clientContext()) == nil)
    }

    @Test("a server that offers only TLS 1.1 → protocolVersionTooOld", .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl")))
    func oldProtocol() async throws {
        let fixtures = try Fixtures()
        let port = try TCPListener(host: "127.0.0.1", port: 0).localAddress.port
        // interactive: s_server quits when its standard input ends, so it is kept open.
        let process = try ChildProcess(
            executable: "/usr/bin/openssl",
            arguments: ["s_server", "-accept", "127.0.0.1:\(port)", "-cert", fixtures.server.certificatePath,
                        "-key", fixtures.server.privateKeyPath, "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0", "-naccept", "1"],
            interactive: true)
        defer {
            process.send(SIGTERM)
            process.closeInput()
        }
        var result: TLSError?
        for _ in 0..<50 {
            do {
                let tcp = try await AsyncTCPConnection.connect(to: .ipv4Loopback(port: port), timeout: .seconds(2))
                do {
                    let stream = try await TLSStream.connect(over: tcp, context: try fixtures.clientContext(), serverName: "localhost")
                    await stream.close()
                } catch {
                    result = error as? TLSError
                    await tcp.close()
                }
                break
            } catch {
                try await Task.sleep(for: .milliseconds(100))  // s_server not listening yet
            }
        }
        guard case .protocolVersionTooOld? = result else { Issue.record("got \(String(describing: result))"); return }
    }
}
