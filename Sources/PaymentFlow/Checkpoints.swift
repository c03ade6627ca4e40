import TCPSocket

/// Named places in a service where a test can stop the next request that passes, to force an
/// interleaving instead of hoping for one.
///
/// A race such as "the merchant cancels while the bank is deciding" happens by chance once in
/// hundreds of runs; a test that must see it every time arms a ``Hold`` at the place
/// (`bank.checkpoints.hold(.authorized)`), starts the charge, waits until the charge is stopped
/// there (``Hold/reached()``), does the racing thing, and lets the charge go on
/// (``Hold/release()``). The service calls ``pass(_:)`` at each place; with nothing armed that
/// costs one lock and returns at once. A hold stops exactly one request, the next to pass.
public final class Checkpoints<Point: Hashable & Sendable>: Sendable {
    private let armed = Locked<[Point: [Hold]]>([:])

    public init() {}

    /// Arms a hold for the next request that passes `point` (holds at one point queue up: the
    /// first armed stops the first request).
    public func hold(_ point: Point) -> Hold {
        let hold = Hold()
        armed.withLock { $0[point, default: []].append(hold) }
        return hold
    }

    /// Called by the service at `point`: if a hold is armed there, it is taken, reports the
    /// request as stopped, and this waits until the test releases it.
    public func pass(_ point: Point) async {
        let hold = armed.withLock { armed -> Hold? in
            guard var queue = armed[point], !queue.isEmpty else { return nil }
            let first = queue.removeFirst()
            armed[point] = queue.isEmpty ? nil : queue
            return first
        }
        guard let hold else { return }
        await hold.stop()
    }
}

/// One armed stop (see ``Checkpoints``): a request that reaches it waits for ``release()``.
public final class Hold: Sendable {
    private struct State {
        var stopped = false
        var released = false
        var reachedWaiters: [CheckedContinuation<Void, Never>] = []
        var releaseWaiter: CheckedContinuation<Void, Never>?
    }

    private let state = Locked(State())

    init() {}

    /// Returns once a request is stopped here.
    public func reached() async {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state -> Bool in
                if state.stopped { return true }
                state.reachedWaiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// Lets the stopped request go on (or lets the next one through at once, if none came yet).
    public func release() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.released = true
            defer { state.releaseWaiter = nil }
            return state.releaseWaiter
        }
        waiter?.resume()
    }

    /// The request's side: report it stopped, then wait for the release.
    func stop() async {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.stopped = true
            defer { state.reachedWaiters = [] }
            return state.reachedWaiters
        }
        for waiter in waiters { waiter.resume() }
        await withCheckedContinuation { continuation in
            let go = state.withLock { state -> Bool in
                if state.released { return true }
                state.releaseWaiter = continuation
                return false
            }
            if go { continuation.resume() }
        }
    }
}
