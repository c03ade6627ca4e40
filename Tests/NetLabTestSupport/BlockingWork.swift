import TCPSocket

/// Where tests run work that blocks a thread — a database call, a `usleep` while another
/// session acts, `DispatchQueue.concurrentPerform` — so that it never holds one of the two
/// threads of the cooperative pool, which every other suite's event handling and TLS deadlines
/// share. The work runs on threads of its own (an ``EventLoopGroup`` as a task executor) inside
/// the test's own task, so `#expect` in it is still the test's.
public enum BlockingWork {
    private static let threads: EventLoopGroup = {
        do { return try EventLoopGroup(loopCount: 4, name: "netlab-test-blocking") } catch { fatalError("test threads: \(error)") }
    }()

    /// Runs `body` on the blocking threads and returns what it returns.
    public static func run<T>(_ body: () throws -> T) async throws -> T {
        try await withTaskExecutorPreference(threads) { try body() }
    }
}
