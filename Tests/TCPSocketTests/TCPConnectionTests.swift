import Foundation
import Testing

@testable import TCPSocket

/// The blocking API (`TCPListener`, `TCPConnection`): what lab 1 teaches first.
@Suite("TCPConnection (blocking API)", .timeLimit(.minutes(3)))
struct TCPConnectionTests {
    /// Serves one connection with a blocking echo loop on a background thread.
    private func startBlockingEcho(_ listener: TCPListener) -> BackgroundThread<Int> {
        BackgroundThread { () -> Int in
            let connection = try listener.accept(deadline: .after(.seconds(10)))
            defer { connection.close() }
            var echoed = 0
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let result = try buffer.withUnsafeMutableBytes { raw in
                    try connection.read(into: raw, deadline: .after(.seconds(10)))
                }
                guard case .bytes(let n) = result else { return echoed }
                try connection.write(buffer[..<n])
                echoed += n
            }
        }
    }

    @Test("echo over loopback", arguments: [("127.0.0.1", ListenFamily.ipv4), ("::1", .ipv6)])
    func echo(host: String, family: ListenFamily) async throws {
        let listener = try TCPListener(host: host, port: 0, family: family)
        #expect(listener.localAddress.port != 0, "port 0 must report the port the kernel chose")
        let server = startBlockingEcho(listener)

        let client = try TCPConnection.connect(to: listener.localAddress, timeout: .seconds(5))
        #expect(client.remoteAddress == listener.localAddress)
        #expect(client.localAddress.family == listener.localAddress.family)
        try client.setNoDelay()
        #expect(try client.noDelay())
        try client.write("hello, \(host)")
        let reply = try client.readExactly(7 + host.utf8.count, deadline: .after(.seconds(5)))
        #expect(String(decoding: reply, as: UTF8.self) == "hello, \(host)")
        try client.shutdown(.write)
        #expect(try client.read(upTo: 100, deadline: .after(.seconds(5))) == nil, "after the echo, end of stream")
        client.close()
        #expect(try await server.value() == 7 + host.utf8.count)
        listener.close()
    }

    @Test("TCP_INFO after an echo: established, the bytes acknowledged, a window and an RTT from the kernel")
    func tcpInfo() async throws {
        let listener = try TCPListener(host: "127.0.0.1", port: 0, family: .ipv4)
        let server = startBlockingEcho(listener)
        let client = try TCPConnection.connect(to: listener.localAddress, timeout: .seconds(5))
        try client.write(Array(repeating: 0x61, count: 3000))
        _ = try client.readExactly(3000, deadline: .after(.seconds(5)))
        let info = try client.tcpInfo()
        #expect(info.state == .established, "\(info)")
        #expect(info.bytesAcknowledged >= 3000 && info.bytesReceived >= 3000, "\(info)")
        #expect(info.congestionWindow > 0 && info.senderMSS > 0 && info.segmentsSent > 0, "\(info)")
        #expect(info.retransmissionTimeout >= .milliseconds(200), "Linux's RTO floor: \(info)")
        #expect(info.totalRetransmissions == 0, "loopback loses nothing: \(info)")
        #expect(info.description.contains("RTT "))
        try client.shutdown(.write)
        _ = try client.read(upTo: 100, deadline: .after(.seconds(5)))
        client.close()
        _ = try await server.value()
        listener.close()
    }

    @Test("a dual-stack listener accepts IPv4 clients as IPv4-mapped IPv6")
    func dualStack() async throws {
        let listener = try TCPListener(port: 0, family: .dualStack)
        #expect(listener.localAddress.family == .ipv6)
        let accepted = BackgroundThread { () -> SocketAddress in
            let connection = try listener.accept(deadline: .after(.seconds(5)))
            defer { connection.close() }
            return connection.remoteAddress
        }
        let client = try TCPConnection.connect(to: .ipv4Loopback(port: listener.localAddress.port), timeout: .seconds(5))
        let remote = try await accepted.value()
        #expect(remote.description == "[::ffff:127.0.0.1]:\(client.localAddress.port)")
        client.close()
        listener.close()
    }

    @Test("connect by host name tries getaddrinfo's addresses")
    func connectByName() async throws {
        let listener = try TCPListener(host: "localhost", port: 0)
        let server = startBlockingEcho(listener)
        let client = try TCPConnection.connect(host: "localhost", port: listener.localAddress.port, timeout: .seconds(5))
        try client.write([1, 2, 3])
        #expect(try client.readExactly(3, deadline: .after(.seconds(5))) == [1, 2, 3])
        client.close()
        _ = try await server.value()
        listener.close()
    }

    @Test("half-close: the peer reads end-of-stream and can still answer")
    func halfClose() async throws {
        let (a, b) = try SocketPair.makeConnections()
        try a.write("request")
        try a.shutdown(.write)
        var received: [UInt8] = []
        while case .bytes = try b.read(into: &received, maxBytes: 3, deadline: .after(.seconds(5))) {}
        #expect(String(decoding: received, as: UTF8.self) == "request")
        try b.write("response")
        b.close()
        #expect(try a.readExactly(8, deadline: .after(.seconds(5))) == Array("response".utf8))
        #expect(try a.read(deadline: .after(.seconds(5))) == nil)
        a.close()
    }

    @Test("readExactly reports a stream that ends early")
    func readExactlyShort() throws {
        let (a, b) = try SocketPair.makeConnections()
        try a.write([9, 9])
        a.close()
        #expect(throws: SocketError.unexpectedEndOfStream(expected: 5, received: 2)) {
            try b.readExactly(5, deadline: .after(.seconds(5)))
        }
        b.close()
    }

    @Test("calls after close throw closed, and close twice is harmless")
    func useAfterClose() throws {
        let (a, b) = try SocketPair.makeConnections()
        a.close()
        a.close()
        #expect(throws: SocketError.closed(operation: "write")) { try a.write([1]) }
        #expect(throws: SocketError.closed(operation: "read")) { try a.read() }
        b.close()
    }

    @Test("a deadline that passes while reading is timedOut, and the wait really waited")
    func readTimeout() throws {
        let (a, b) = try SocketPair.makeConnections()
        let start = ContinuousClock.now
        #expect(throws: SocketError.timedOut(operation: "read", target: "0.0.0.0:0", limit: .milliseconds(150))) {
            try a.read(deadline: .after(.milliseconds(150)))
        }
        #expect(ContinuousClock.now - start >= .milliseconds(150))
        a.close()
        b.close()
    }

    @Test("a full send buffer makes write wait, then time out")
    func writeTimeout() throws {
        let (a, b) = try SocketPair.makeConnections()
        let big = [UInt8](repeating: 7, count: 64 << 20)  // far more than any socket buffer
        do {
            try a.write(big, deadline: .after(.milliseconds(200)))
            Issue.record("64 MiB fitted into an unread socket buffer")
        } catch {
            guard case .timedOut(let operation, _, _) = error else {
                Issue.record("expected timedOut, got \(error)")
                return
            }
            #expect(operation == "write")
        }
        a.close()
        b.close()
    }

    @Test("accept with a deadline and no client times out")
    func acceptTimeout() throws {
        let listener = try TCPListener(host: "127.0.0.1", port: 0)
        #expect(throws: SocketError.timedOut(operation: "accept", target: listener.localAddress.description, limit: .milliseconds(50))) {
            try listener.accept(deadline: .after(.milliseconds(50)))
        }
        listener.close()
        #expect(throws: SocketError.closed(operation: "accept")) { try listener.accept() }
    }

    @Test("binding a port that is in use is addressInUse, with bind and EADDRINUSE kept")
    func addressInUse() throws {
        let first = try TCPListener(host: "127.0.0.1", port: 0, reuseAddress: false)
        do {
            _ = try TCPListener(host: "127.0.0.1", port: first.localAddress.port, reuseAddress: false)
            Issue.record("two listeners bound the same port")
        } catch {
            guard case .addressInUse(let failure) = error else {
                Issue.record("expected addressInUse, got \(error)")
                return
            }
            #expect(failure.syscall == "bind")
            #expect(failure.errnoName == "EADDRINUSE")
            #expect(error.description.contains("EADDRINUSE"))
        }
        first.close()
    }

    @Test("keep-alive can be switched on with timing, and off")
    func keepAlive() throws {
        let listener = try TCPListener(host: "127.0.0.1", port: 0)
        let client = try TCPConnection.connect(to: listener.localAddress, timeout: .seconds(5))
        try client.setKeepAlive(KeepAlive(idle: .seconds(30), interval: .seconds(5), probes: 3))
        #expect(try SocketCalls.getFlag(client.fd, SOL_SOCKET, SO_KEEPALIVE, name: "SO_KEEPALIVE"))
        try client.setKeepAlive(nil)
        #expect(try !SocketCalls.getFlag(client.fd, SOL_SOCKET, SO_KEEPALIVE, name: "SO_KEEPALIVE"))
        client.close()
        listener.close()
    }
}
