import PaymentFlow
import TCPSocket

/// Holds each webhook at the gateway until the story reaches it.
///
/// The gateway's notifier delivers on its own schedule, side by side with the customer's next
/// request; left alone, the "pending" webhook of a card payment lands before, inside or after
/// the 3-D Secure page from one run to the next, and every step number after it moves. With the
/// gate closed, a story says when each webhook goes (``release(order:status:)``): its place —
/// and so the whole numbering — is the same on every run. The gate is a demo device: the real
/// notifier never waits.
final class WebhookGate: Sendable {
    private struct Key: Hashable {
        var order: String
        var status: String
    }

    private struct State {
        /// Holding at all (a story that tells every webhook when to go); otherwise every
        /// delivery passes at once.
        var holding = false
        var released: Set<Key> = []
        var waiting: [Key: [CheckedContinuation<Void, Never>]] = [:]
    }

    private let state = Locked(State())

    /// From now on, each webhook waits for its release.
    func close() { state.withLock { $0.holding = true } }

    /// The notifier's side: returns when `entry` may go.
    func pass(_ entry: OutboxEntry) async {
        let key = Key(order: entry.orderID, status: entry.transactionStatus)
        await withCheckedContinuation { continuation in
            let goes = state.withLock { state -> Bool in
                if !state.holding || state.released.contains(key) { return true }
                state.waiting[key, default: []].append(continuation)
                return false
            }
            if goes { continuation.resume() }
        }
    }

    /// Lets the webhook saying `status` about `order` go (now, or when it comes).
    func release(order: String, status: String) {
        let key = Key(order: order, status: status)
        let waiting = state.withLock { state in
            state.released.insert(key)
            return state.waiting.removeValue(forKey: key) ?? []
        }
        for continuation in waiting { continuation.resume() }
    }

    /// Lets everything go, for good (the story is over, or has gone wrong: nothing may hang).
    func open() {
        let waiting = state.withLock { state in
            state.holding = false
            defer { state.waiting = [:] }
            return state.waiting.values.flatMap { $0 }
        }
        for continuation in waiting { continuation.resume() }
    }
}
