import TCPSocket
import Testing

@testable import TCPSocket

@Suite("EventLoop", .timeLimit(.minutes(3)))
struct EventLoopTests {
    @Test("execute runs closures on the loop thread, in order")
    func executeInOrder() async throws {
        let loop = try EventLoop(name: "test-order")
        defer { loop.shutdown() }
        let seen = Locked<[Int]>([])
        let onLoop = Locked<[Bool]>([])
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            for i in 0..<100 {
                loop.execute {
                    seen.withLock { $0.append(i) }
                    onLoop.withLock { $0.append(loop.inEventLoop) }
                    if i == 99 { done.resume() }
                }
            }
        }
        #expect(seen.withLock { $0 } == Array(0..<100))
        #expect(onLoop.withLock { $0.allSatisfy { $0 } })
        #expect(!loop.inEventLoop)
    }

    @Test("scheduled closures run after their delay, earliest first; cancelled ones never")
    func timers() async throws {
        let loop = try EventLoop(name: "test-timers")
        defer { loop.shutdown() }
        let fired = Locked<[String]>([])
        let start = ContinuousClock.now
        loop.schedule(after: .milliseconds(60)) { fired.withLock { $0.append("cancelled") } }.cancel()
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            loop.schedule(after: .milliseconds(90)) {
                fired.withLock { $0.append("late") }
                done.resume()
            }
            loop.schedule(after: .milliseconds(30)) { fired.withLock { $0.append("early") } }
        }
        #expect(fired.withLock { $0 } == ["early", "late"])
        #expect(ContinuousClock.now - start >= .milliseconds(90))
    }

    // Rule 3 of EventLoop.swift: a task that prefers the loop resumes on the loop thread after
    // waiting for readiness, so a server's per-connection work never hops threads.
    @Test("a task pinned to a connection's loop resumes on that loop after a read")
    func pinnedTaskStaysOnLoop() async throws {
        let (a, b) = try SocketPair.makeStreams()
        let reader = Task(executorPreference: a.loop) { () -> (Bool, Bool, [UInt8]) in
            let before = a.loop.inEventLoop
            var buffer: [UInt8] = []
            // (The deadline only guards against a hang; a loaded machine may be slow.)
            _ = try await a.read(into: &buffer, maxBytes: 10, deadline: .after(.seconds(30)))
            return (before, a.loop.inEventLoop, buffer)
        }
        try await Task.sleep(for: .milliseconds(100))  // the reader is parked in its wait by now
        try await b.write([1, 2, 3])
        let (before, after, bytes) = try await reader.value
        #expect(before && after)
        #expect(bytes == [1, 2, 3])
        await a.close()
        await b.close()
    }

    @Test("the poll(2) selector (macOS's) serves an echo exchange too")
    func pollSelectorEcho() async throws {
        let group = EventLoopGroup(loops: [try .withPollSelector(name: "poll-0"), try .withPollSelector(name: "poll-1")])
        defer { group.shutdown() }
        try await withAsyncEchoServer(group: group) { listener in
            for round in 0..<20 {
                let client = try await AsyncTCPConnection.connect(
                    to: listener.localAddress, timeout: .seconds(5), on: group.next())
                let message = Array("round \(round)".utf8)
                try await client.write(message)
                #expect(try await client.readExactly(message.count) == message)
                await client.close()
            }
        }
    }

    @Test("shutting a loop down fails the tasks still waiting on it")
    func shutdownFailsWaiters() async throws {
        let loop = try EventLoop(name: "test-shutdown")
        let (x, y) = try SocketPair.makeConnections()
        let a = AsyncTCPConnection(adopting: x, on: loop)
        let reader = Task {
            var buffer: [UInt8] = []
            return try await a.read(into: &buffer, maxBytes: 1)
        }
        try await Task.sleep(for: .milliseconds(50))
        await BackgroundThreadVoid { loop.shutdown() }.wait()
        await #expect(throws: SocketError.closed(operation: "read")) { _ = try await reader.value }
        // The loop is gone, but closing still releases the descriptor instead of hanging.
        // (The peer reading end-of-stream proves the descriptor was really closed.)
        await a.close()
        #expect(try y.read(deadline: .after(.seconds(5))) == nil)
        // And a read on a connection whose loop stopped fails at once rather than waiting forever.
        let (p, q) = try SocketPair.makeConnections()
        let orphan = AsyncTCPConnection(adopting: p, on: loop)
        var buffer: [UInt8] = []
        await #expect(throws: SocketError.closed(operation: "read")) {
            _ = try await orphan.read(into: &buffer, maxBytes: 1)
        }
        await orphan.close()
        q.close()
        y.close()
        loop.shutdown()  // a second shutdown is harmless
    }
}

/// Runs a blocking call off the cooperative pool.
struct BackgroundThreadVoid {
    let thread: BackgroundThread<Bool>
    init(_ body: @escaping @Sendable () -> Void) {
        thread = BackgroundThread { body(); return true }
    }
    func wait() async { _ = try? await thread.value() }
}
