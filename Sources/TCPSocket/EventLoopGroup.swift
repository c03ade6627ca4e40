import Synchronization

/// A fixed set of ``EventLoop``s, one per core by default, handed out round-robin.
///
/// A server spreads its connections over the group's loops so both cores work; each connection
/// then stays on its loop for life (no locks between loops on the hot path).
public final class EventLoopGroup: Sendable {
    public let loops: [EventLoop]
    private let cursor = Atomic<Int>(0)

    /// Starts `loopCount` loops (default: one per core this process may run on).
    public init(loopCount: Int = EventLoopGroup.coreCount, name: String = "netlab-loop") throws(SocketError) {
        precondition(loopCount > 0, "an EventLoopGroup needs at least one loop")
        var loops: [EventLoop] = []
        for i in 0..<loopCount { loops.append(try EventLoop(name: "\(name)-\(i)")) }
        self.loops = loops
    }

    /// A group made of the given loops (e.g. poll-based ones in tests).
    public init(loops: [EventLoop]) {
        precondition(!loops.isEmpty, "an EventLoopGroup needs at least one loop")
        self.loops = loops
    }

    /// The next loop in round-robin order.
    public func next() -> EventLoop {
        loops[cursor.add(1, ordering: .relaxed).oldValue % loops.count]
    }

    /// Stops every loop (see ``EventLoop/shutdown()``).
    public func shutdown() {
        for loop in loops { loop.shutdown() }
    }

    /// Cores available to this process.
    public static var coreCount: Int { Platform.coreCount }

    /// The process-wide group the async API uses when none is given. Created on first use and
    /// never shut down.
    public static let shared: EventLoopGroup = {
        do {
            return try EventLoopGroup(name: "netlab-shared")
        } catch {
            fatalError("cannot start the shared event loops: \(error)")
        }
    }()
}

/// A group is also a `TaskExecutor`: each job goes to the next loop. Work that may block a
/// thread (a SQLite call waiting on a disk or a lock) is given threads of its own this way, so it
/// never holds one of the few threads of Swift's cooperative pool, where every other task runs.
extension EventLoopGroup: TaskExecutor {
    public func enqueue(_ job: consuming ExecutorJob) {
        next().enqueue(job)
    }
}
