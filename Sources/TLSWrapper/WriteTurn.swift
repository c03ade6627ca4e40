import TCPSocket

/// The turn to send ciphertext on one ``TLSStream``: first come, first served.
///
/// Records must leave in the order the engine sealed them, so only the holder of the turn
/// moves ciphertext to the stream below. Taking a free turn and giving it back are plain
/// calls under a lock — no task switch — because nearly every write finds the turn free (one
/// writer, and a reader that only sends when nobody else is). Only a task that finds the turn
/// held suspends; ``release()`` hands the turn straight to the longest waiter, so a stream of
/// readers can never starve a writer.
final class WriteTurn: Sendable {
    private struct State {
        var held = false
        var waiting: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Locked(State())

    /// Takes the turn if nobody holds it; never waits.
    func tryTake() -> Bool {
        state.withLock { state in
            if state.held { return false }
            state.held = true
            return true
        }
    }

    /// Takes the turn, waiting behind earlier takers when it is held.
    func take() async {
        if tryTake() { return }
        await withCheckedContinuation { (turn: CheckedContinuation<Void, Never>) in
            // Queue under the lock, so a release between `tryTake` and here is not missed.
            let granted = state.withLock { state in
                if state.held {
                    state.waiting.append(turn)
                    return false
                }
                state.held = true
                return true
            }
            if granted { turn.resume() }
        }
    }

    /// How many tasks wait for the turn (for tests).
    var waitingCount: Int { state.withLock { $0.waiting.count } }

    /// Gives the turn back: to the longest waiter if there is one (it stays held), else free.
    func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.waiting.isEmpty else {
                state.held = false
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.resume()
    }
}
