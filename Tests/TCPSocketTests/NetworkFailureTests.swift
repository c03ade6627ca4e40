import Foundation
import Testing

@testable import TCPSocket

/// What the network does wrong, each on loopback only, each giving its own SocketError case
/// quickly and without hanging.
@Suite("Network failures", .timeLimit(.minutes(3)))
struct NetworkFailureTests {
    /// A port on 127.0.0.1 that nobody listens on: bind one, note it, close it.
    private func closedPort() throws -> UInt16 {
        let listener = try TCPListener(host: "127.0.0.1", port: 0, reuseAddress: false)
        defer { listener.close() }
        return listener.localAddress.port
    }

    @Test("connecting to a port nobody listens on is connectionRefused (ECONNREFUSED)")
    func refused() throws {
        let port = try closedPort()
        do {
            _ = try TCPConnection.connect(to: .ipv4Loopback(port: port), timeout: .seconds(5))
            Issue.record("connected to a closed port")
        } catch {
            guard case .connectionRefused(let failure) = error else {
                Issue.record("expected connectionRefused, got \(error)")
                return
            }
            #expect(failure.syscall == "connect")
            #expect(failure.errnoName == "ECONNREFUSED")
            #expect(failure.target == "127.0.0.1:\(port)")
        }
    }

    @Test("the async connect reports refusal the same way")
    func refusedAsync() async throws {
        let port = try closedPort()
        await #expect {
            _ = try await AsyncTCPConnection.connect(to: .ipv4Loopback(port: port), timeout: .seconds(5))
        } throws: { error in
            if case .connectionRefused = error as? SocketError { return true }
            return false
        }
    }

    @Test("an unknown host name is hostNotFound before any packet is sent")
    func unknownHost() {
        #expect {
            _ = try TCPConnection.connect(host: "no such host.invalid", port: 80, timeout: .seconds(2))
        } throws: { error in
            if case .hostNotFound = error as? SocketError { return true }
            return false
        }
    }

    // Linux queues at most backlog+1 finished handshakes per listener; once that queue is full it
    // drops new SYNs, so the next connect waits for a SYN-ACK that never comes: a connect timeout
    // produced entirely on loopback.
    @Test("a connect the listener never answers times out at its deadline")
    func connectTimeout() throws {
        let listener = try TCPListener(host: "127.0.0.1", port: 0, backlog: 0)
        var queued: [TCPConnection] = []
        defer {
            for connection in queued { connection.close() }
            listener.close()
        }
        for _ in 0..<32 {
            let start = ContinuousClock.now
            do {
                queued.append(try TCPConnection.connect(to: listener.localAddress, timeout: .milliseconds(300)))
            } catch {
                guard case .timedOut(let operation, let target, let limit) = error else {
                    Issue.record("expected timedOut, got \(error)")
                    return
                }
                #expect(operation == "connect")
                #expect(target == listener.localAddress.description)
                #expect(limit == .milliseconds(300))
                let waited = ContinuousClock.now - start
                #expect(waited >= .milliseconds(300) && waited < .seconds(60), "waited \(waited)")
                return
            }
        }
        Issue.record("32 connections fitted in a backlog-0 accept queue; no timeout observed")
    }

    @Test("a peer that aborts (RST) gives connectionReset on read")
    func resetOnRead() async throws {
        let listener = try TCPListener(host: "127.0.0.1", port: 0)
        let client = try TCPConnection.connect(to: listener.localAddress, timeout: .seconds(5))
        let server = try listener.accept(deadline: .after(.seconds(5)))
        server.abort()
        do {
            _ = try client.read(deadline: .after(.seconds(5)))
            Issue.record("read succeeded after the peer reset the connection")
        } catch {
            guard case .connectionReset(let failure) = error else {
                Issue.record("expected connectionReset, got \(error)")
                return
            }
            #expect(failure.errnoName == "ECONNRESET")
        }
        client.close()
        listener.close()
    }

    @Test("the async read reports a reset too")
    func resetOnAsyncRead() async throws {
        let listener = try AsyncTCPListener(host: "127.0.0.1", port: 0)
        let client = try await AsyncTCPConnection.connect(to: listener.localAddress, timeout: .seconds(5))
        let server = try await listener.accept(deadline: .after(.seconds(5)))
        await server.abort()
        var buffer: [UInt8] = []
        await #expect {
            _ = try await client.read(into: &buffer, maxBytes: 10, deadline: .after(.seconds(5)))
        } throws: { error in
            if case .connectionReset = error as? SocketError { return true }
            return false
        }
        await client.close()
        await listener.close()
    }

    // After the peer closes, the first write still succeeds (the kernel only learns from the
    // peer's RST answer); a later one fails with EPIPE or ECONNRESET. SIGPIPE must not kill us:
    // MSG_NOSIGNAL is on every send.
    @Test("writing after the peer closed is brokenPipe or connectionReset, never SIGPIPE")
    func writeAfterPeerClose() throws {
        let listener = try TCPListener(host: "127.0.0.1", port: 0)
        let client = try TCPConnection.connect(to: listener.localAddress, timeout: .seconds(5))
        let server = try listener.accept(deadline: .after(.seconds(5)))
        server.close()
        var failure: SocketError?
        for _ in 0..<200 {
            do {
                try client.write([UInt8](repeating: 1, count: 1024), deadline: .after(.seconds(2)))
                Thread.sleep(forTimeInterval: 0.005)
            } catch {
                failure = error
                break
            }
        }
        switch failure {
        case .brokenPipe(let f)?: #expect(f.errnoName == "EPIPE")
        case .connectionReset(let f)?: #expect(f.errnoName == "ECONNRESET")
        default: Issue.record("expected brokenPipe or connectionReset, got \(String(describing: failure))")
        }
        client.close()
        listener.close()
    }

    @Test("an async read with a deadline times out; the connection stays usable")
    func asyncReadTimeout() async throws {
        let (a, b) = try SocketPair.makeStreams()
        var buffer: [UInt8] = []
        let start = ContinuousClock.now
        await #expect(throws: SocketError.timedOut(operation: "read", target: "0.0.0.0:0", limit: .milliseconds(100))) {
            _ = try await a.read(into: &buffer, maxBytes: 10, deadline: .after(.milliseconds(100)))
        }
        #expect(ContinuousClock.now - start >= .milliseconds(100))
        try await b.write([42])
        #expect(try await a.read(into: &buffer, maxBytes: 10, deadline: .after(.seconds(5))) == .bytes(1))
        #expect(buffer == [42])
        await a.close()
        await b.close()
    }

    @Test("the ByteStream conveniences without a deadline wait; with one they time out")
    func byteStreamDeadline() async throws {
        let (a, b) = try SocketPair.makeStreams()
        let stream: any ByteStream = a
        await #expect(throws: SocketError.timedOut(operation: "read", target: "0.0.0.0:0", limit: .milliseconds(50))) {
            _ = try await stream.readExactly(1, deadline: .after(.milliseconds(50)))
        }
        try await b.write("x")
        #expect(try await stream.readExactly(1) == Array("x".utf8))
        await a.close()
        await b.close()
    }

    @Test("cancelling a task that waits in read ends the wait with CancellationError")
    func cancelledRead() async throws {
        let (a, b) = try SocketPair.makeStreams()
        let reader = Task {
            var buffer: [UInt8] = []
            return try await a.read(into: &buffer, maxBytes: 10)
        }
        try await Task.sleep(for: .milliseconds(50))
        reader.cancel()
        await #expect(throws: CancellationError.self) { _ = try await reader.value }
        await a.close()
        await b.close()
    }

    @Test("closing a connection wakes its waiting reader with closed")
    func closeWakesReader() async throws {
        let (a, b) = try SocketPair.makeStreams()
        let reader = Task {
            var buffer: [UInt8] = []
            return try await a.read(into: &buffer, maxBytes: 10)
        }
        try await Task.sleep(for: .milliseconds(50))
        await a.close()
        await #expect(throws: SocketError.closed(operation: "read")) { _ = try await reader.value }
        await b.close()
    }
}
