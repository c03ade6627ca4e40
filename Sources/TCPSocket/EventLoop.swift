// Theory of operation
// ===================
//
// An EventLoop is one OS thread that owns one Selector (epoll on Linux, poll elsewhere) and
// runs three kinds of work, round after round:
//
//   1. queued work — closures and Swift task jobs submitted from any thread;
//   2. readiness   — descriptors the kernel reports ready, whose waiters it resumes;
//   3. timers      — deadlines that passed, whose waiters it fails with `timedOut`.
//
// Rule 1: the registry of waiters and the timer heap are touched only on the loop thread.
// Other threads reach them by submitting a closure (`execute`), which is queued under a mutex
// and followed by a `wakeup` of the selector — unless the submitter *is* the loop thread, which
// will look at the queue before it sleeps anyway.
//
// Rule 2: a task that reads or writes never blocks a thread. It first tries the system call
// itself (non-blocking); only on EAGAIN does it suspend, handing the loop a continuation and
// an interest ("wake me when fd 12 is readable"). The loop arms the descriptor one-shot and
// level-triggered, so readiness that arrived between the EAGAIN and the arming is reported at
// once: no lost wake-ups, whichever thread the task ran on.
//
// Rule 3 (the performance rule): the loop is also a Swift `TaskExecutor`. A connection's task
// started with `Task(executorPreference: loop)` runs its jobs on the loop thread, so when the
// loop resumes its continuation the task continues *on the same thread, in the same round*,
// without a hop to the global pool. A server pins each connection to one loop and its reads,
// parsing and writes all happen there; only handlers that really await elsewhere leave it.
//
// Waking: `wakePending` makes many submissions in a burst cost one `wakeup` write; the loop
// clears it before draining the queue, so a submission that lands after the drain wakes the
// next wait.
//
// Shutting down: the loop thread marks the queue `stopped` under its lock and hands what is
// left to `afterStop`, a serial queue that from then on plays the loop's part for the state of
// rule 1: it fails every waiter with `closed`, and later submissions go there too (task jobs go
// to the global executor). So a connection closed after its loop stopped still releases its
// descriptor, and nothing waits forever on a loop that no longer runs.

import Dispatch
import Synchronization

/// One thread that waits on many sockets at once and runs the tasks pinned to it.
///
/// Most code never touches a loop directly: ``AsyncTCPListener`` and ``AsyncTCPConnection``
/// use one from an ``EventLoopGroup``. A loop runs until ``shutdown()``.
public final class EventLoop: TaskExecutor, @unchecked Sendable, CustomStringConvertible {
    // Safe from any thread:
    private let selector: any Selector
    private let queue = Locked(Queue())
    /// Runs loop work after the thread has stopped (see "Shutting down" above).
    private let afterStop: DispatchQueue
    private let wakePending = Atomic<Bool>(false)
    private let stopRequested = Atomic<Bool>(false)
    private let threadID = Atomic<UInt>(0)
    private let nextID = Atomic<UInt64>(1)
    private let threadHandle = Locked<JoinHandle?>(nil)
    public let name: String

    // Loop thread only (rule 1):
    private var waiters: [Int32: Waiters] = [:]
    private var timers = TimerHeap()
    private var draining: [Work] = []

    private enum Work {
        case job(UnownedJob)
        case closure(@Sendable () -> Void)
    }

    private struct Queue {
        var work: [Work] = []
        var stopped = false
    }

    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Void, any Error>
        let timer: UInt64?
        /// "read", "write", "accept" or "connect": what a `closed` error will name.
        let operation: String
    }

    /// Where one wait is, shared by the task's cancellation handler and the loop, so a
    /// cancellation that arrives before the loop registered the wait is not lost.
    private final class WaitProgress: Sendable {
        enum Phase { case submitted, registered, cancelledEarly }
        let phase = Locked(Phase.submitted)
    }

    private struct Waiters {
        var read: [Waiter] = []
        var write: [Waiter] = []
        var interest: Interest {
            var i: Interest = []
            if !read.isEmpty { i.insert(.readable) }
            if !write.isEmpty { i.insert(.writable) }
            return i
        }
    }

    private struct JoinHandle: @unchecked Sendable {
        let thread: Platform.ThreadHandle
    }

    /// Starts a loop on its own thread with the platform's selector (epoll on Linux).
    public convenience init(name: String = "netlab-loop") throws(SocketError) {
        try self.init(name: name, selector: Platform.makeSelector())
    }

    /// Starts a loop that uses `poll(2)` whatever the platform, as macOS builds do.
    public static func withPollSelector(name: String = "netlab-poll-loop") throws(SocketError) -> EventLoop {
        EventLoop(name: name, selector: try PollSelector())
    }

    init(name: String, selector: any Selector) {
        self.name = name
        self.selector = selector
        self.afterStop = DispatchQueue(label: "\(name)-stopped")
        let thread = Platform.startThread(name: name) { [self] in run() }
        threadHandle.withLock { $0 = JoinHandle(thread: thread) }
    }

    deinit {
        selector.close()
    }

    public var description: String { "EventLoop(\(name))" }

    /// True when called on this loop's thread.
    public var inEventLoop: Bool {
        threadID.load(ordering: .acquiring) == Platform.currentThreadID()
    }

    // MARK: Submitting work

    /// Runs `work` on the loop thread, after what is already queued.
    public func execute(_ work: @escaping @Sendable () -> Void) {
        submit(.closure(work))
    }

    /// `TaskExecutor`: runs a job of a task that prefers this loop.
    public func enqueue(_ job: consuming ExecutorJob) {
        submit(.job(UnownedJob(job)))
    }

    private func submit(_ work: Work) {
        let accepted = queue.withLock { queue -> Bool in
            if queue.stopped { return false }
            queue.work.append(work)
            return true
        }
        guard accepted else {
            afterStop.async { [self] in perform(work) }
            return
        }
        if inEventLoop { return }
        if !wakePending.exchange(true, ordering: .acquiringAndReleasing) { selector.wakeup() }
    }

    private func perform(_ work: Work) {
        switch work {
        case .job(let job):
            // After a stop, a task that preferred this loop runs on the global executor instead.
            job.runSynchronously(on: isStopped ? globalConcurrentExecutor.asUnownedTaskExecutor() : asUnownedTaskExecutor())
        case .closure(let body):
            body()
        }
    }

    private var isStopped: Bool { queue.withLock { $0.stopped } }

    /// Runs `work` now if on the loop thread, else queues it.
    private func onLoop(_ work: @escaping @Sendable () -> Void) {
        if inEventLoop { work() } else { submit(.closure(work)) }
    }

    /// A handle to cancel a scheduled closure.
    public struct Scheduled: Sendable {
        let loop: EventLoop
        let id: UInt64
        /// Stops the closure from running, if it has not run yet.
        public func cancel() {
            let (loop, id) = (loop, id)
            loop.onLoop { loop.timers.cancel(id) }
        }
    }

    /// Runs `work` on the loop thread once `delay` has passed.
    @discardableResult
    public func schedule(after delay: Duration, _ work: @escaping @Sendable () -> Void) -> Scheduled {
        let id = nextID.add(1, ordering: .relaxed).oldValue
        let due = ContinuousClock.now + delay
        onLoop { [self] in timers.insert(id: id, due: due, action: work) }
        return Scheduled(loop: self, id: id)
    }

    // MARK: Waiting for readiness

    /// Suspends the calling task until `fd` is ready for `interest`, the deadline passes
    /// (throws ``SocketError/timedOut(operation:target:limit:)``), the task is cancelled
    /// (throws `CancellationError`), the descriptor is forgotten or `isClosed` says it was
    /// closed, or the loop stops (all three throw ``SocketError/closed(operation:)``).
    ///
    /// Call it after the non-blocking system call said EAGAIN, then retry the call.
    func waitUntilReady(
        _ fd: Int32, for interest: Interest, deadline: Deadline, operation: String, target: String,
        isClosed: @escaping @Sendable () -> Bool
    ) async throws {
        let id = nextID.add(1, ordering: .relaxed).oldValue
        let progress = WaitProgress()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                onLoop { [self] in
                    let cancelled = progress.phase.withLock { phase -> Bool in
                        if phase == .cancelledEarly { return true }
                        phase = .registered
                        return false
                    }
                    if cancelled { return continuation.resume(throwing: CancellationError()) }
                    // Checked here, on the loop, after any `forget` queued by a close: a wait that
                    // races with close() can never register on a closed (or reused) descriptor.
                    if isClosed() || isStopped {
                        return continuation.resume(throwing: SocketError.closed(operation: operation))
                    }
                    var timer: UInt64?
                    if let due = deadline.instant {
                        let timerID = nextID.add(1, ordering: .relaxed).oldValue
                        timer = timerID
                        timers.insert(id: timerID, due: due) { [self] in
                            resumeWaiter(
                                id: id, fd: fd,
                                throwing: SocketError.timedOut(operation: operation, target: target, limit: deadline.limit))
                        }
                    }
                    let waiter = Waiter(id: id, continuation: continuation, timer: timer, operation: operation)
                    var entry = waiters[fd] ?? Waiters()
                    if interest.contains(.readable) { entry.read.append(waiter) } else { entry.write.append(waiter) }
                    waiters[fd] = entry
                    do throws(SocketError) {
                        try selector.arm(fd, for: entry.interest)
                    } catch {
                        resumeWaiter(id: id, fd: fd, throwing: error)
                    }
                }
            }
        } onCancel: {
            let registered = progress.phase.withLock { phase -> Bool in
                if phase == .registered { return true }
                phase = .cancelledEarly
                return false
            }
            // If the waiter was already resumed, resumeWaiter finds nothing: no bookkeeping left.
            if registered { onLoop { [self] in resumeWaiter(id: id, fd: fd, throwing: CancellationError()) } }
        }
    }

    /// Forgets `fd` (its waiters fail with ``SocketError/closed(operation:)``), then runs
    /// `andThen` on the loop thread — where the descriptor can be closed safely.
    func forget(_ fd: Int32, andThen: @escaping @Sendable () -> Void) {
        onLoop { [self] in
            selector.forget(fd)
            if let entry = waiters.removeValue(forKey: fd) {
                for waiter in entry.read + entry.write {
                    if let timer = waiter.timer { timers.cancel(timer) }
                    waiter.continuation.resume(throwing: SocketError.closed(operation: waiter.operation))
                }
            }
            andThen()
        }
    }

    /// Removes one waiter and resumes it with `error`. Returns false if it was not waiting.
    @discardableResult
    private func resumeWaiter(id: UInt64, fd: Int32, throwing error: any Error) -> Bool {
        guard var entry = waiters[fd] else { return false }
        var found: Waiter?
        if let i = entry.read.firstIndex(where: { $0.id == id }) {
            found = entry.read.remove(at: i)
        } else if let i = entry.write.firstIndex(where: { $0.id == id }) {
            found = entry.write.remove(at: i)
        }
        guard let waiter = found else { return false }
        waiters[fd] = entry.interest.isEmpty ? nil : entry
        if let timer = waiter.timer { timers.cancel(timer) }
        waiter.continuation.resume(throwing: error)
        return true
    }

    /// The selector reported `fd` ready: resume its waiters for `ready`, re-arm for the rest.
    private func dispatch(_ fd: Int32, _ ready: Interest) {
        guard var entry = waiters[fd] else { return }
        var woken: [Waiter] = []
        if ready.contains(.readable) { woken += entry.read; entry.read.removeAll() }
        if ready.contains(.writable) { woken += entry.write; entry.write.removeAll() }
        let remaining = entry.interest
        if remaining.isEmpty {
            waiters[fd] = nil
        } else {
            waiters[fd] = entry
            do throws(SocketError) {
                try selector.arm(fd, for: remaining)
            } catch {
                for waiter in entry.read + entry.write { resumeWaiter(id: waiter.id, fd: fd, throwing: error) }
            }
        }
        for waiter in woken {
            if let timer = waiter.timer { timers.cancel(timer) }
            waiter.continuation.resume()
        }
    }

    // MARK: The loop

    private func run() {
        threadID.store(Platform.currentThreadID(), ordering: .releasing)
        while true {
            wakePending.store(false, ordering: .releasing)
            runQueuedWork()
            if stopRequested.load(ordering: .acquiring) && queue.withLock({ $0.work.isEmpty }) { break }

            let now = ContinuousClock.now
            var timeout: Int32 = -1
            if !queue.withLock({ $0.work.isEmpty }) {
                timeout = 0
            } else if let due = timers.nextDue {
                timeout = due <= now ? 0 : Deadline(instant: due, limit: .zero).remainingMilliseconds
            }
            do throws(SocketError) {
                try selector.wait(timeoutMilliseconds: timeout) { fd, ready in dispatch(fd, ready) }
            } catch {
                // epoll_wait/poll fail only on programming errors (EBADF, EINVAL); nothing a
                // retry would mend, and spinning would hide it.
                fatalError("\(name): readiness wait failed: \(error)")
            }
            for action in timers.takeDue(now: .now) { action() }
        }
        // Hand the loop's state to `afterStop` under the queue lock, so whatever was queued runs
        // before anything submitted later, and never concurrently with it.
        queue.withLock { queue in
            queue.stopped = true
            let leftover = queue.work
            queue.work.removeAll()
            afterStop.async { [self] in
                for work in leftover { perform(work) }
                for (fd, _) in waiters { forget(fd) {} }
                timers = TimerHeap()
            }
        }
        threadID.store(0, ordering: .releasing)
    }

    private func runQueuedWork() {
        queue.withLock { swap(&$0.work, &draining) }
        for work in draining { perform(work) }
        draining.removeAll(keepingCapacity: true)
    }

    /// Stops the loop after it has run what is queued, and waits for its thread to end.
    /// Tasks still waiting on its sockets fail with ``SocketError/closed(operation:)``; tasks
    /// that preferred the loop continue on the global executor; later calls to `execute` run
    /// on a serial fallback queue and `schedule`d closures never run. Blocks the caller while
    /// the thread finishes; must not be called from the loop's own thread (it would wait for
    /// itself). Calling it again does nothing.
    public func shutdown() {
        precondition(!inEventLoop, "EventLoop.shutdown() called on the loop's own thread")
        guard let handle = threadHandle.withLock({ h -> JoinHandle? in defer { h = nil }; return h }) else { return }
        stopRequested.store(true, ordering: .releasing)
        selector.wakeup()
        Platform.join(handle.thread)
    }
}
