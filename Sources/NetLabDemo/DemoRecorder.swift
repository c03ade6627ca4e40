import Foundation
import HTTPParser
import PaymentFlow
import TCPSocket

/// Collects the steps of a run as they happen, from every actor's task, in order; tells a
/// listener about each one as it lands (the live narration), and lets a scenario wait for one.
public final class DemoRecorder: Sendable {
    private struct State {
        /// nil: a reserved place (a message being written) not filled yet.
        var slots: [DemoStep?] = []
        /// How many steps the listener has been given (always a filled prefix).
        var emitted = 0
        var steps: [DemoStep] { slots.prefix(emitted).compactMap { $0 } }
        var names: [String: String] = [:]
        var sensitive: [String] = []
        /// Set by ``seal()``: the story is over.
        var sealed = false
    }

    private let state = Locked(State())
    private let listener: (@Sendable (DemoStep) -> Void)?

    public init(listener: (@Sendable (DemoStep) -> Void)? = nil) {
        self.listener = listener
    }

    public var steps: [DemoStep] { state.withLock { $0.steps } }

    /// Records `step` (numbered here) and passes it to the listener.
    @discardableResult
    public func add(_ step: DemoStep) -> DemoStep {
        fill(reserve(), with: step)
    }

    /// Takes the next place in the story for a step that is not complete yet: a message is
    /// numbered when it is sent, but recorded once the TLS records carrying it are known (by
    /// then the receiver may already have reacted). Later steps wait for it.
    func reserve() -> Int {
        state.withLock { state in
            if state.sealed { return -1 }
            state.slots.append(nil)
            return state.slots.count - 1
        }
    }

    /// Ends the story: what happens from now on — traffic the shutdown that follows cuts off, a
    /// webhook retried on the gateway's schedule — is not recorded. Places reserved before this
    /// are still filled (their messages were already on their way).
    public func seal() {
        state.withLock { $0.sealed = true }
    }

    /// Ends the story with `last` if it is at rest: no message on its way (every reserved place
    /// filled) and `condition` true of the steps — checked and sealed in one step, so nothing can
    /// slip in between the check and the end. False (and nothing changes) otherwise.
    func conclude(with last: DemoStep, if condition: ([DemoStep]) -> Bool) -> Bool {
        let slot = state.withLock { state -> Int? in
            guard !state.sealed, state.emitted == state.slots.count, condition(state.steps) else { return nil }
            state.slots.append(nil)
            state.sealed = true
            return state.slots.count - 1
        }
        guard let slot else { return false }
        fill(slot, with: last)
        return true
    }

    /// Fills a reserved place and gives the listener every step now complete, in order.
    @discardableResult
    func fill(_ slot: Int, with step: DemoStep) -> DemoStep {
        guard slot >= 0 else { return step }  // after seal(): not part of the story
        var step = step
        step.number = slot + 1
        let numbered = step
        state.withLock { state in
            state.slots[slot] = numbered
            // Under the lock, so that the listener sees steps in order (it only queues them).
            while state.emitted < state.slots.count, let next = state.slots[state.emitted] {
                state.emitted += 1
                listener?(next)
            }
        }
        return numbered
    }

    /// Names the actor listening at `url`'s host and port (`gateway`, `bank`, …).
    public func name(_ actor: String, at url: String) {
        guard let parsed = try? HTTPURLKey(url) else { return }
        state.withLock { $0.names[parsed.key] = actor }
    }

    func actor(host: String, port: UInt16) -> String {
        state.withLock { $0.names["\(host):\(port)"] } ?? "\(host):\(port)"
    }

    /// Strings an eavesdropper would want, highlighted in wiretap views.
    public func markSensitive(_ secret: String) {
        state.withLock { if !$0.sensitive.contains(secret) { $0.sensitive.append(secret) } }
    }

    var sensitive: [String] { state.withLock { $0.sensitive } }

    /// Waits until a recorded step satisfies `condition` (checked as steps arrive; at most
    /// `limit`, a guard against a story that went wrong). False if it never came.
    public func wait(for limit: Duration = .seconds(15), until condition: @Sendable ([DemoStep]) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline && !Task.isCancelled {
            if condition(steps) { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return condition(steps)
    }

    /// What the payment actors decided, as steps (each carrying its event).
    public func observe(_ event: PaymentEvent) {
        add(Self.step(for: event))
    }

    static func step(for event: PaymentEvent) -> DemoStep {
        var step = narrated(event)
        step.event = event
        return step
    }

    static func narrated(_ event: PaymentEvent) -> DemoStep {
        switch event {
        case .gatewayStatus(let order, let id, let from, let to, let fraud):
            var details = ["transaction \(id)"]
            if let fraud { details.append("fraud_status \(fraud.rawValue)") }
            return DemoStep(layer: .payment, kind: .paymentGateway, from: "gateway",
                         title: "Gateway records order \(order): \(from?.rawValue ?? "new") → \(to.rawValue)", details: details, outcome: to.rawValue)
        case .fraudVerdict(let order, let verdict, let reasons):
            return DemoStep(layer: .payment, kind: .paymentFraud, from: "fraud", title: "Fraud detection on order \(order): \(verdict.rawValue)",
                         details: reasons.isEmpty ? ["no rule fired"] : reasons, outcome: verdict.rawValue)
        case .bank(let reference, let change):
            return DemoStep(layer: .payment, kind: .paymentBank, from: "bank", title: "Bank: \(change)", details: ["reference \(reference)"],
                         outcome: change.split(separator: ":").first.map(String.init))
        case .orderStatus(let order, let from, let to):
            return DemoStep(layer: .payment, kind: .paymentOrder, from: "merchant",
                         title: "Merchant's order \(order): \(from?.rawValue ?? "new") → \(to.rawValue)", outcome: to.rawValue)
        case .webhookChecked(let order, let notified, let valid, let confirmed, let outcome):
            return DemoStep(layer: .payment, kind: .paymentWebhook, from: "merchant",
                         title: "Merchant checks the webhook for \(order)",
                         details: [
                            "the notification says transaction_status \(notified ?? "(none)")",
                            valid ? "signature_key = SHA-512(order_id + status_code + gross_amount + server_key): matches"
                                : "signature_key does not match what the server key gives: forged or altered",
                            confirmed.map { "GET /v2/{id}/status confirms transaction_status \($0)" } ?? "not confirmed with the gateway",
                            "outcome: \(outcome)",
                         ],
                         outcome: outcome.hasPrefix("rejected") ? "rejected" : outcome.hasPrefix("duplicate") ? "duplicate" : "applied")
        }
    }
}

/// `host:port` of a URL, the key naming actors.
struct HTTPURLKey {
    let key: String
    init(_ text: String) throws {
        guard let schemeEnd = text.range(of: "://") else { throw CocoaError(.fileReadInvalidFileName) }
        let rest = text[schemeEnd.upperBound...]
        let authority = rest.prefix { $0 != "/" }
        let defaultPort = text.hasPrefix("https") ? "443" : "80"
        key = authority.contains(":") ? String(authority) : "\(authority):\(defaultPort)"
    }
}
