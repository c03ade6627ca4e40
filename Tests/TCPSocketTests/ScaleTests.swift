import Foundation
import Synchronization
import TCPSocket
import Testing

@testable import TCPSocket

/// Many bytes and many connections: the readiness loop earning its keep. Serialized so their
/// descriptor counts do not add up.
@Suite("Scale", .serialized, .timeLimit(.minutes(3)))
struct ScaleTests {
    // 64 MiB through an echo server whose reads take random sizes, written by the client in
    // random-size pieces from one thread while it reads from another: partial reads and writes
    // everywhere, and the checksum and count must come back identical.
    @Test("64 MiB round trip with a checksum across partial reads and writes")
    func bulkRoundTrip() async throws {
        var sizes = SeededGenerator(defaultSeed: 0x6E65_746C_6162)
        let seed = sizes.seed
        let serverSizes = Locked(SeededGenerator(defaultSeed: seed &+ 1))
        let total = 64 << 20
        try await withAsyncEchoServer(readSizes: { serverSizes.withLock { Int.random(in: 1...200_000, using: &$0) } }) {
            listener in
            let client = try TCPConnection.connect(to: listener.localAddress, timeout: .seconds(5))
            var pieces: [Int] = []
            var left = total
            while left > 0 {
                let n = min(left, Int.random(in: 1...300_000, using: &sizes))
                pieces.append(n)
                left -= n
            }
            let writer = BackgroundThread { [pieces] () -> Checksum in
                var data = SeededGenerator(defaultSeed: seed &+ 2)
                var sent = Checksum()
                var chunk = [UInt8](repeating: 0, count: 300_008)
                for n in pieces {
                    chunk.withUnsafeMutableBytes { raw in
                        for i in stride(from: 0, to: n, by: 8) { raw.storeBytes(of: data.next(), toByteOffset: i, as: UInt64.self) }
                    }
                    try chunk.withUnsafeBytes { raw in
                        let piece = UnsafeRawBufferPointer(rebasing: raw[..<n])
                        sent.add(piece)
                        try client.write(piece, deadline: .after(.seconds(60)))
                    }
                }
                try client.shutdown(.write)
                return sent
            }
            let reader = BackgroundThread { [sizes] () -> Checksum in
                var sizes = sizes
                var received = Checksum()
                var buffer = [UInt8](repeating: 0, count: 1 << 20)
                while true {
                    let result = try buffer.withUnsafeMutableBytes { raw in
                        let room = Int.random(in: 1...raw.count, using: &sizes)
                        return try client.read(
                            into: UnsafeMutableRawBufferPointer(rebasing: raw[..<room]), deadline: .after(.seconds(60)))
                    }
                    guard case .bytes(let n) = result else { return received }
                    buffer.withUnsafeBytes { received.add(UnsafeRawBufferPointer(rebasing: $0[..<n])) }
                }
            }
            let received = try await reader.value()
            let sent = try await writer.value()
            #expect(sent.count == total, "seed \(seed)")
            #expect(received == sent, "seed \(seed): sent \(sent), received \(received)")
            client.close()
        }
    }

    @Test("1,000 concurrent clients served by one listener, every byte accounted for")
    func thousandClients() async throws {
        _ = raiseOpenFileLimit(to: 8192)
        var generator = SeededGenerator(defaultSeed: 1000)
        let seed = generator.seed
        let payloads = (0..<1000).map { i in
            let words = (0..<Int.random(in: 1...1024, using: &generator)).map { _ in generator.next() }
            return words.withUnsafeBytes { Array($0) } + Array("#\(i)".utf8)
        }
        let served = Atomic<Int>(0)
        let listener = try AsyncTCPListener(host: "127.0.0.1", port: 0, backlog: 2048)
        let server = Task {
            try await listener.serve { connection in
                var buffer: [UInt8] = []
                while case .bytes(let n) = try await connection.read(into: &buffer, maxBytes: 4096) {
                    served.add(n, ordering: .relaxed)
                    try await connection.write(buffer)
                    buffer.removeAll(keepingCapacity: true)
                }
            }
        }
        let echoed = try await withThrowingTaskGroup(of: Int.self) { group in
            for payload in payloads {
                group.addTask {
                    let client = try await AsyncTCPConnection.connect(to: listener.localAddress, timeout: .seconds(30))
                    try await client.write(payload)
                    try await client.shutdownWrite()
                    let back = try await client.readToEnd()
                    await client.close()
                    #expect(back == payload, "seed \(seed)")
                    return back.count
                }
            }
            return try await group.reduce(0, +)
        }
        let expected = payloads.reduce(0) { $0 + $1.count }
        #expect(echoed == expected, "seed \(seed)")
        await listener.close()
        try await server.value
        #expect(served.load(ordering: .relaxed) == expected, "seed \(seed)")
    }

    // The clients live in a Python process (so each process stays under its descriptor limit);
    // the server side is 10,000 tasks, each suspended in a read, on two loop threads.
    @Test("10,000 idle connections held open without a thread each")
    func tenThousandIdle() async throws {
        let count = 10_000
        let limit = raiseOpenFileLimit(to: count + 4096)
        try #require(limit >= count + 1024, "RLIMIT_NOFILE is \(limit); this test needs \(count + 1024)")
        let open = Atomic<Int>(0)
        let peak = Atomic<Int>(0)
        let echoed = Atomic<Int>(0)
        let threadsBefore = threadCount()
        let listener = try AsyncTCPListener(host: "127.0.0.1", port: 0, backlog: 4096)
        let server = Task {
            try await listener.serve { connection in
                let now = open.add(1, ordering: .relaxed).newValue
                _ = peak.max(now, ordering: .relaxed)
                defer { open.subtract(1, ordering: .relaxed) }
                var buffer: [UInt8] = []
                while case .bytes = try await connection.read(into: &buffer, maxBytes: 16) {
                    try await connection.write(buffer)
                    echoed.add(buffer.count, ordering: .relaxed)
                    buffer.removeAll(keepingCapacity: true)
                }
            }
        }
        let python = try PythonProcess(script: Self.idleClients, arguments: [String(listener.localAddress.port), String(count)])
        let connected = try await python.readLine()
        #expect(connected == "connected \(count)")
        // Every connection is accepted and its task is parked in read.
        let deadline = ContinuousClock.now + .seconds(60)
        while open.load(ordering: .relaxed) < count && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(open.load(ordering: .relaxed) == count)
        let threadsHolding = threadCount()
        // A thread per connection would mean 10,000 more; other suites running meanwhile add a few.
        #expect(threadsHolding - threadsBefore < 200, "threads before \(threadsBefore), holding \(threadsHolding)")
        python.send("ping")
        let answer = try await python.readLine()
        #expect(answer == "echoed \(count)")
        #expect(try await python.wait() == 0)
        while open.load(ordering: .relaxed) > 0 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(open.load(ordering: .relaxed) == 0)
        #expect(peak.load(ordering: .relaxed) == count)
        #expect(echoed.load(ordering: .relaxed) == count)
        await listener.close()
        try await server.value
    }

    /// Opens N connections, reports, waits for "ping", sends one byte on each, checks every
    /// echo, closes them all. Every socket has a timeout, so the script cannot hang.
    static let idleClients = """
        import socket, sys
        port, count = int(sys.argv[1]), int(sys.argv[2])
        socks = []
        for i in range(count):
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            socks.append(s)
        print(f"connected {len(socks)}", flush=True)
        sys.stdin.readline()
        for s in socks:
            s.sendall(b"x")
        ok = 0
        for s in socks:
            if s.recv(1) == b"x":
                ok += 1
        print(f"echoed {ok}", flush=True)
        for s in socks:
            s.close()
        sys.exit(0 if ok == count else 1)
        """
}
