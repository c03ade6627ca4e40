import Foundation
import NetLabTestSupport
import TCPSocket
import Testing
import TLSWrapper

@testable import LabNetwork

/// NetLab's router with impairments, on a real namespace network (root only).
@Suite("Link emulator", .serialized, .enabled(if: canBuildNamespaces, "needs root and iproute2"), .timeLimit(.minutes(3)))
struct LinkEmulatorTests {
    /// Builds a network with `impairments`, runs `body` with it, and removes it again.
    static func withNetwork(
        _ impairments: [Topology.Host: LinkImpairment], seed: UInt64 = 7,
        _ body: (Topology, LinkEmulator) async throws -> Void
    ) async throws {
        let topology = try Topology(prefix: uniquePrefix())
        let network = NamespaceNetwork(topology: topology)
        let emulator = try await offThePool {
            try network.up()
            let emulator = try LinkEmulator(topology: topology, impairments: impairments, seed: seed)
            try emulator.start()
            return emulator
        }
        let outcome: Result<Void, any Error>
        do {
            try await body(topology, emulator)
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        _ = try? await offThePool {
            emulator.stop()
            try network.down()
        }
        try outcome.get()
    }

    /// A listener on the gateway's host and a connection to it from the customer's.
    static func connect(_ topology: Topology) async throws -> (client: AsyncTCPConnection, server: AsyncTCPConnection, listener: AsyncTCPListener) {
        let listener = AsyncTCPListener(adopting: try TCPListener(
            bindingTo: try SocketAddress(ipAddress: topology.address(of: .gateway), port: 0), in: topology.namespace(of: .gateway)))
        async let accepted = listener.accept(deadline: .after(.seconds(30)))
        let client = try await AsyncTCPConnection.connect(
            to: try SocketAddress(ipAddress: topology.address(of: .gateway), port: listener.localAddress.port),
            timeout: .seconds(30), in: topology.namespace(of: .customer))
        return (client, try await accepted, listener)
    }

    @Test("40 ms on the customer's link: the round trip to the gateway is 80 ms (it is crossed twice), as TCP measures it")
    func delay() async throws {
        try await Self.withNetwork([.customer: LinkImpairment(delay: .milliseconds(40))]) { topology, emulator in
            let (client, server, listener) = try await Self.connect(topology)
            for _ in 0..<5 {
                try await client.write(Array("ping".utf8))
                _ = try await server.readExactly(4, deadline: .after(.seconds(30)))
                try await server.write(Array("pong".utf8))
                _ = try await client.readExactly(4, deadline: .after(.seconds(30)))
            }
            let info = try client.tcpInfo()
            #expect(info.minimumRoundTripTime >= .milliseconds(80), "\(info)")
            #expect(info.minimumRoundTripTime < .milliseconds(80 + 250), "a generous margin for a busy machine: \(info)")
            #expect(emulator.linkCounters[.customer]?.received ?? 0 > 0)
            await client.close()
            await server.close()
            await listener.close()
        }
    }

    @Test("5 % loss on the customer's link: TCP retransmits, and every byte still arrives in order", arguments: [11, 12] as [UInt64])
    func loss(seed: UInt64) async throws {
        try await Self.withNetwork([.customer: LinkImpairment(loss: 0.05)], seed: seed) { topology, emulator in
            let (client, server, listener) = try await Self.connect(topology)
            let payload = (0..<400_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            async let received = server.readExactly(payload.count, deadline: .after(.seconds(60)))
            try await client.write(payload, deadline: .after(.seconds(60)))
            #expect(try await received == payload, "seed \(seed)")
            let info = try client.tcpInfo()
            let dropped = emulator.linkCounters[.customer]?.dropped ?? 0
            #expect(dropped > 0, "seed \(seed): \(emulator.linkCounters)")
            #expect(info.totalRetransmissions > 0, "seed \(seed): \(info)")
            await client.close()
            await server.close()
            await listener.close()
        }
    }

    @Test("a capture of the customer's interface holds the connection's SYN (read back by tshark)", .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/tshark")))
    func capture() async throws {
        try await Self.withNetwork([:]) { topology, _ in
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-\(UUID().uuidString).pcap").path
            defer { try? FileManager.default.removeItem(atPath: file) }
            let capture = try PacketCapture(interface: Topology.hostInterface, in: topology.namespace(of: .customer), to: file)
            let exchanged = await Result {
                let (client, server, listener) = try await Self.connect(topology)
                try await client.write(Array("over the wire".utf8))
                _ = try await server.readExactly(13, deadline: .after(.seconds(30)))
                await client.close()
                await server.close()
                await listener.close()
            }
            let frames = try await offThePool { try capture.stop() }  // stopped whatever happened
            try exchanged.get()
            #expect(frames >= 4)
            let (status, syns) = try await ChildProcess.run(
                ["tshark", "-r", file, "-Y", "tcp.flags.syn == 1 && tcp.flags.ack == 0", "-T", "fields", "-e", "ip.src", "-e", "ip.dst"])
            #expect(status == 0, "\(syns)")
            #expect(syns.contains("\(topology.address(of: .customer))\t\(topology.address(of: .gateway))"), "\(syns)")
            let (_, payload) = try await ChildProcess.run(["tshark", "-r", file, "-Y", "tcp.len > 0", "-T", "fields", "-e", "tcp.payload"])
            #expect(payload.contains(Array("over the wire".utf8).map { String(format: "%02x", $0) }.joined()), "\(payload)")
        }
    }
}

/// A capture of HTTPS between two hosts, and the TLS key log that opens it (root only).
@Suite("Capture", .serialized, .enabled(if: canBuildNamespaces && FileManager.default.isExecutableFile(atPath: "/usr/bin/tshark"), "needs root, iproute2 and tshark"), .timeLimit(.minutes(3)))
struct CaptureTests {
    @Test("tshark decrypts the captured HTTPS with the key log written beside the pcap")
    func decryptsWithTheKeyLog() async throws {
        try await LinkEmulatorTests.withNetwork([:]) { topology, _ in
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-capture-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let ca = try LabCertificateAuthority(directory: folder + "/ca")
            let leaf = try ca.issue(name: "gateway")
            let keys = Locked<[String]>([])
            var serverConfiguration = TLSConfiguration.server(certificateChainFile: leaf.certificatePath, privateKeyFile: leaf.privateKeyPath)
            serverConfiguration.keyLog = nil
            var clientConfiguration = TLSConfiguration.client(trustRootsFile: ca.certificatePath)
            clientConfiguration.keyLog = { line in keys.withLock { $0.append(line) } }

            let pcap = folder + "/customer.pcap"
            let capture = try PacketCapture(interface: Topology.hostInterface, in: topology.namespace(of: .customer), to: pcap)
            let (tcp, accepted, listener) = try await LinkEmulatorTests.connect(topology)
            let serverContext = try TLSContext(serverConfiguration)
            async let serverSide = TLSStream.accept(over: accepted, context: serverContext)
            let client = try await TLSStream.connect(over: tcp, context: try TLSContext(clientConfiguration), serverName: "gateway")
            let server = try await serverSide
            try await client.write("GET /v2/secret-order/status HTTP/1.1\r\nHost: gateway\r\n\r\n")
            var request: [UInt8] = []
            while !String(decoding: request, as: UTF8.self).hasSuffix("\r\n\r\n") {
                _ = try await server.read(into: &request, maxBytes: 4096, deadline: .after(.seconds(20)))
            }
            try await server.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            _ = try await client.readExactly(40, deadline: .after(.seconds(20)))
            await client.close()
            await server.close()
            await listener.close()
            _ = try await offThePool { try capture.stop() }

            let keyLog = folder + "/keys.log"
            try Data(keys.withLock { $0 }.joined(separator: "\n").utf8 + [0x0A]).write(to: URL(fileURLWithPath: keyLog))
            let port = listener.localAddress.port
            let (plain, withoutKeys) = try await ChildProcess.run(
                ["tshark", "-r", pcap, "-d", "tcp.port==\(port),tls", "-Y", "http.request", "-T", "fields", "-e", "http.request.uri"])
            #expect(plain == 0 && !withoutKeys.contains("secret-order"), "without the keys the request is unreadable: \(withoutKeys)")
            let (status, decrypted) = try await ChildProcess.run(
                ["tshark", "-r", pcap, "-o", "tls.keylog_file:\(keyLog)", "-d", "tcp.port==\(port),tls", "-Y", "http.request",
                 "-T", "fields", "-e", "http.request.uri"])
            #expect(status == 0 && decrypted.contains("/v2/secret-order/status"), "\(decrypted)")
        }
    }
}

@Suite("Forwarding and impairments")
struct ForwardingTests {
    /// A real IPv4 header (UDP, 192.168.0.1 → 192.168.0.199, 115 bytes in all) with its
    /// checksum field zero; its checksum is b861.
    static let header: [UInt8] = [0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xC0, 0xA8, 0x00, 0x01, 0xC0, 0xA8, 0x00, 0xC7]

    /// An Ethernet frame holding that packet: its header with the checksum filled in, 95 bytes of payload.
    static func frame() -> [UInt8] {
        var header = Self.header
        header[10] = 0xB8
        header[11] = 0x61
        return [UInt8](repeating: 0xEE, count: 12) + [0x08, 0x00] + header + [UInt8](repeating: 0x42, count: 0x73 - 20)
    }

    static let router: [UInt8] = [2, 0, 0, 0, 0, 1], host: [UInt8] = [2, 0, 0, 0, 0, 2]

    @Test("the Internet checksum of a header (RFC 1071)")
    func checksum() {
        #expect(LinkEmulator.internetChecksum(Self.header[...]) == 0xB861)
    }

    @Test("forwarding: TTL − 1, a checksum that verifies, the next hop's MAC addresses; a TTL of 1 is dropped")
    func forward() {
        var frame = Self.frame()
        #expect(LinkEmulator.forward(&frame, from: Self.router, to: Self.host))
        #expect(Array(frame[0..<6]) == Self.host && Array(frame[6..<12]) == Self.router)
        #expect(frame[14 + 8] == 0x3F)
        #expect(LinkEmulator.internetChecksum(frame[14..<34]) == 0, "a header with its checksum sums to zero")
        frame[14 + 8] = 1
        #expect(!LinkEmulator.forward(&frame, from: Self.router, to: Self.host))
    }

    @Test("a header whose checksum is wrong, or a packet longer than its frame, is dropped (RFC 1812 §5.2.2)")
    func malformed() {
        var corrupted = Self.frame()
        corrupted[14 + 12] ^= 0x01  // one bit of the source address
        #expect(!LinkEmulator.forward(&corrupted, from: Self.router, to: Self.host))
        var cut = Self.frame()
        cut.removeLast(10)
        #expect(!LinkEmulator.forward(&cut, from: Self.router, to: Self.host))
        var short = Array(Self.frame().prefix(30))
        #expect(!LinkEmulator.forward(&short, from: Self.router, to: Self.host))
    }

    @Test("a departure queue sends by departure time: a packet let through early overtakes the held ones")
    func departureOrder() {
        let queue = DepartureQueue(limit: 3)
        let now = ContinuousClock.now
        #expect(queue.add([1], at: now + .milliseconds(30), serialization: nil))
        #expect(queue.add([2], at: now + .milliseconds(20), serialization: nil))
        #expect(queue.add([3], at: now, serialization: nil))
        #expect(!queue.add([4], at: now, serialization: nil), "a full queue drops")
        #expect([queue.next(), queue.next(), queue.next()] == [[3], [2], [1]])
        queue.close()
        #expect(queue.next() == nil)
    }

    @Test("impairments as written on the command line", arguments: [
        ("delay=80ms,jitter=10ms,loss=2%,reorder=1%,rate=1mbit", "delay 80 ms, jitter 10 ms, loss 2.0%, reorder 1.0%, rate 1000000 bit/s"),
        ("delay=1.5s", "delay 1500 ms"),
        ("delay=250us", "delay 250 µs"),
        ("loss=0.5%", "loss 0.5%"),
        ("rate=512kbit", "rate 512000 bit/s"),
    ])
    func parsing(text: String, description: String) throws {
        #expect(try LinkImpairment(parsing: text).description == description)
    }

    @Test("impairments that cannot be read say why", arguments: ["delay=80", "loss=2", "loss=101%", "rate=fast", "speed=1mbit", "delay"])
    func refused(text: String) {
        #expect(throws: LabNetworkError.self) { try LinkImpairment(parsing: text) }
    }
}

extension Result where Failure == any Error {
    /// The outcome of `body`, so what must follow it (stopping a capture) runs either way.
    init(_ body: () async throws -> Success) async {
        do {
            self = .success(try await body())
        } catch {
            self = .failure(error)
        }
    }
}
