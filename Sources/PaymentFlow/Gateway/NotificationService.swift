import Foundation
import HTTPParser
import NetLab
import TCPSocket

/// When a failed webhook is tried again, after Midtrans' published policy.
///
/// How many retries depends on the merchant's answer (500 → 1, 503 → 4, 400 and 404 → 2,
/// 301/302/303 → none: a redirect is a misconfigured URL; 307/308 are followed, up to 5 hops,
/// re-posting the same body; anything else, timeouts and refused
/// connections included → 5). Retry *n* waits `delays[n-1]` plus a random shift of up to the
/// same again. Midtrans' delays are 2, 10, 30, 90 and 210 minutes; demos and tests compress them.
public struct RetryPolicy: Sendable {
    public var delays: [Duration]
    /// Add a random shift of up to each delay (spreads retries of many webhooks).
    public var jitter: Bool

    public init(delays: [Duration], jitter: Bool = true) {
        self.delays = delays
        self.jitter = jitter
    }

    /// Midtrans' schedule.
    public static let midtrans = RetryPolicy(delays: [.seconds(120), .seconds(600), .seconds(1800), .seconds(5400), .seconds(12600)])

    /// The same shape, `factor` times faster (e.g. 1/1000: 120 ms, 600 ms, …), for demos and tests.
    public static func compressed(by factor: Double, jitter: Bool = false) -> RetryPolicy {
        RetryPolicy(delays: midtrans.delays.map { $0 * factor }, jitter: jitter)
    }

    /// How many retries a failed attempt with this result earns (`status` nil: no HTTP answer).
    public static func retries(afterStatus status: Int?) -> Int {
        switch status {
        case 500: 1
        case 503: 4
        case 400, 404: 2
        case 301, 302, 303: 0
        default: 5
        }
    }
}

/// The gateway's notification service: delivers the outbox's webhooks to merchants.
///
/// The payment service never calls merchants itself: it writes each notification into the
/// store's outbox in the same commit as the status change, and this service — in the same
/// process or another one sharing the SQLite file or the PostgreSQL database, several at once on
/// PostgreSQL — takes due entries (under a lease), POSTs them, and records the outcome. A 2xx answer is delivery; anything else is retried by the
/// ``RetryPolicy`` until it runs out ("gave up", kept in the history). Stopping this service
/// stops nothing else: the outbox fills, and drains when it returns.
///
/// Routes: `GET /v1/notifications?order_id=…` (the merchant's delivery history, Basic auth with
/// the server key; without an order, the newest ``historyLimit`` entries), `POST /v1/notifications/resend[?order_id=…]` (the merchant's undelivered
/// notifications, given-up ones too, delivered now; Basic auth) and `POST /v1/notifications/flush`
/// (deliver what is due now).
public final class NotificationService: Sendable {
    public let store: any GatewayStore
    let merchants: MerchantDirectory
    /// Delivers for merchants allowed private webhooks (lab merchants).
    let client: HTTPClient
    /// Delivers for every other merchant: connects to public addresses only, whatever the
    /// name resolves to by the time of the connect (see ``WebhookTarget``).
    let publicClient: HTTPClient
    public let policy: RetryPolicy
    /// How long one delivery may take before it counts as failed (Midtrans: 15 s).
    public let timeout: Duration
    private let now: @Sendable () -> Date
    /// Where deliveries run (they touch the store): the store's threads, or Swift's global executor.
    private let executor: (any TaskExecutor)?
    private let random: Locked<SplitMix64>
    /// Called after each attempt (for the demo's narration and for tests).
    private let onAttempt: (@Sendable (OutboxEntry, String, Bool) -> Void)?
    /// Awaited before each delivery attempt (nil: none). The demo holds a webhook here until its
    /// story reaches it; it must return well within the claim's lease.
    private let gate: (@Sendable (OutboxEntry) async -> Void)?

    public init(store: any GatewayStore, client: HTTPClient, policy: RetryPolicy = .midtrans, timeout: Duration = .seconds(15),
                seed: UInt64 = 0x4e65_744c_6162, now: @escaping @Sendable () -> Date = { Date() }, executor: (any TaskExecutor)? = nil,
                onAttempt: (@Sendable (_ entry: OutboxEntry, _ result: String, _ delivered: Bool) -> Void)? = nil,
                gate: (@Sendable (_ entry: OutboxEntry) async -> Void)? = nil) {
        self.gate = gate
        self.store = store
        self.merchants = MerchantDirectory(store: store)
        self.client = client
        self.publicClient = client.with { $0.permitsAddress = { !$0.isPrivateOrLocal } }
        self.policy = policy
        self.timeout = timeout
        self.now = now
        self.executor = executor
        self.random = Locked(SplitMix64(seed: seed))
        self.onAttempt = onAttempt
    }

    public var router: Router {
        var router = Router()
        router.get("/v1/notifications") { [self] request in
            guard let merchant = try merchant(for: request) else { throw HTTPError(status: 401, message: "Unknown Merchant server_key/id") }
            let orderID = request.queryParameters["order_id"]
            let entries = try store.notifications(merchantID: merchant.merchantID, orderID: orderID,
                                                  newest: orderID == nil ? Self.historyLimit : nil)
            let list: [[String: Any]] = entries.map { entry in
                var item: [String: Any] = [
                    "id": String(entry.id), "order_id": entry.orderID, "transaction_status": entry.transactionStatus, "url": entry.url,
                    "attempts": String(entry.attempts),
                    "state": entry.deliveredAt != nil ? "delivered" : entry.gaveUpAt != nil ? "gave_up" : "pending",
                ]
                if let result = entry.lastResult { item["last_result"] = result }
                return item
            }
            let data = try JSONSerialization.data(withJSONObject: ["notifications": list], options: [.sortedKeys])
            return HTTPResponse(status: 200, fields: HTTPFields(["Content-Type": "application/json"]), body: .bytes(Array(data)))
        }
        router.post("/v1/notifications/flush") { [self] _ in
            let delivered = try await deliverDue()
            return try .json(["attempted": delivered])
        }
        // The dashboard's "resend": the merchant (back online, or with its URL fixed) asks for
        // its undelivered notifications now instead of at the next retry.
        router.post("/v1/notifications/resend") { [self] request in
            guard let merchant = try merchant(for: request) else { throw HTTPError(status: 401, message: "Unknown Merchant server_key/id") }
            let due = try store.resendNotifications(merchantID: merchant.merchantID, orderID: request.queryParameters["order_id"],
                                                    now: Timestamp.millis(now()))
            let attempted = try await deliverDue()
            return try .json(["resent": due, "attempted": attempted])
        }
        return router
    }

    /// Closes the connections the service opened itself (the public-only client's pool; the
    /// client it was given is its owner's to shut down).
    public func shutdown() async {
        await publicClient.shutdown()
    }

    private func merchant(for request: HTTPRequest) throws -> MerchantAccount? {
        try? merchants.authenticate(request)
    }

    /// The history without an `order_id` lists the merchant's newest this many entries.
    public static let historyLimit = 1_000

    /// At most this many deliveries at once, in all.
    public static let concurrency = 32
    /// At most this many at once to one merchant: three quarters of the slots. A busy merchant
    /// alone uses nearly all of them; a merchant whose endpoint hangs for the full timeout holds
    /// no more than this, and the slots left over always carry the other merchants' webhooks.
    public static let perMerchantConcurrency = 24
    /// Deliveries in flight per merchant (both ``run(every:)`` and ``deliverDue(limit:)`` count here).
    private let inFlight = Locked<[String: Int]>([:])

    /// One claim at a time (the run loop and a resend's pass), so their counts add up.
    private let claiming = Locked(())

    /// Takes up to `room` due entries, none for a merchant already at its share, and counts
    /// them as in flight once the store has handed them out. The store keeps each order's
    /// webhooks in order.
    private func claim(room: Int) throws -> [OutboxEntry] {
        guard room > 0 else { return [] }
        let start = Timestamp.millis(now())
        // Long enough for a whole attempt: every redirect hop has its own timeout.
        let lease = start + Int64(Self.maximumRedirects + 1) * Timestamp.millis(timeout) + 5000
        return try claiming.withLock { _ in
            // A snapshot: deliveries that end meanwhile only leave more room than counted.
            let busy = inFlight.withLock { $0 }
            let taken = try store.claimDueNotifications(now: start, leaseUntil: lease, limit: room, share: Self.perMerchantConcurrency,
                                                        inFlight: busy)
            inFlight.withLock { inFlight in
                for entry in taken { inFlight[entry.merchantID, default: 0] += 1 }
            }
            return taken
        }
    }

    private func deliverCounted(_ entry: OutboxEntry) async {
        await deliver(entry)
        inFlight.withLock { inFlight in
            inFlight[entry.merchantID, default: 1] -= 1
            if inFlight[entry.merchantID] == 0 { inFlight[entry.merchantID] = nil }
        }
    }

    /// One pass: takes what is due now (within the concurrency limits), delivers it and records
    /// each outcome. Returns how many attempts were made. (The flush and resend routes use it.)
    @discardableResult
    public func deliverDue(limit: Int = 256) async throws -> Int {
        let entries = try claim(room: min(limit, Self.concurrency))
        await withTaskGroup(of: Void.self) { group in
            for entry in entries { group.addTask { await self.deliverCounted(entry) } }
        }
        return entries.count
    }

    /// Delivers due notifications until the task is cancelled. Deliveries run side by side: a
    /// new one starts as soon as a slot frees (or every `interval`, when nothing was due) — no
    /// delivery waits for a batch, so one slow merchant cannot hold up another's webhooks.
    /// Cancelled, it takes nothing more and lets the deliveries under way finish (each within
    /// ``timeout``): a shutdown never cuts a webhook off between its request and its answer.
    public func run(every interval: Duration) async {
        await withTaskGroup(of: Bool.self) { group in
            var deliveries = 0
            var timerPending = false
            while !Task.isCancelled {
                let taken = (try? claim(room: Self.concurrency - deliveries)) ?? []
                for entry in taken {
                    deliveries += 1
                    // Its own task: the loop's cancellation does not reach a delivery under way.
                    let delivery = Task(executorPreference: executor) { await self.deliverCounted(entry) }
                    group.addTask { await delivery.value; return false }
                }
                // Took some and there is room: more may be due at once.
                if !taken.isEmpty && deliveries < Self.concurrency { continue }
                if !timerPending {
                    timerPending = true
                    group.addTask { try? await Task.sleep(for: interval); return true }
                }
                // Wait for a delivery to finish (a slot frees) or the interval to pass.
                guard let wasTimer = await group.next() else { continue }
                if wasTimer { timerPending = false } else { deliveries -= 1 }
            }
            group.cancelAll()
        }
    }

    private func deliver(_ entry: OutboxEntry) async {
        if let gate { await gate(entry) }
        var status: Int?
        var result: String
        var refused = false
        do {
            let (response, hops) = try await post(entry)
            status = response.status
            result = (hops + [String(response.status)]).joined(separator: " → ")
        } catch {
            refused = error is WebhookTarget.Refused
            result = WebhookTarget.reason(error)
        }
        let at = Timestamp.millis(now())
        let delivered = (200..<300).contains(status ?? 0)
        do {
            if delivered {
                // The claim's lease (its nextAttemptAt) fences the outcome: if it ran out and
                // another deliverer took the entry, that one's outcome stands.
                try store.markDelivered(id: entry.id, at: at, result: result, lease: entry.nextAttemptAt)
            } else {
                let attempts = entry.attempts + 1
                let allowed = min(RetryPolicy.retries(afterStatus: status), policy.delays.count)
                var next: Int64?
                // A refused target is given up at once: asking again changes nothing.
                if attempts <= allowed && !refused {
                    let nominal = policy.delays[attempts - 1]
                    var wait = Timestamp.millis(nominal)
                    if policy.jitter { wait += Int64(random.withLock { $0.next() } % UInt64(max(wait, 1))) }
                    next = at + wait
                }
                try store.markFailed(id: entry.id, attempts: attempts, nextAttemptAt: next, at: at, result: result, lease: entry.nextAttemptAt)
            }
        } catch {
            // The store failed: the lease runs out and the entry is tried again (at least once).
        }
        onAttempt?(entry, result, delivered)
    }

    /// At most this many 307/308 redirects are followed per attempt (Midtrans: 5).
    public static let maximumRedirects = 5

    /// POSTs the webhook, following 307/308 redirects with the same method and body (as Midtrans
    /// does; 301/302/303 would turn the POST into a GET and are answered as they are). Returns the
    /// final answer and the hops taken (`"307 https://…"`); each hop has the delivery timeout.
    private func post(_ entry: OutboxEntry) async throws -> (HTTPClientResponse, [String]) {
        var url = try HTTPURL(entry.url)
        var hops: [String] = []
        let allowPrivate = (try? merchants.merchant(id: entry.merchantID))??.allowsPrivateWebhooks ?? false
        while true {
            // Checked before every hop: a redirect must not lead into a private network either.
            let checked = url
            try await withDeadline(timeout) { try await WebhookTarget.check(checked, allowPrivate: allowPrivate) }
            var request = HTTPClientRequest(method: .post, url: url)
            request.body = entry.body
            try request.fields.append(name: "Content-Type", value: "application/json")
            try request.fields.append(name: "Accept", value: "application/json")
            try request.fields.append(name: "User-Agent", value: "NetLab-Notification/1.0")
            let prepared = request, client = allowPrivate ? client : publicClient
            let response: HTTPClientResponse
            do {
                response = try await withDeadline(timeout) { try await client.execute(prepared) }
            } catch HTTPClientError.addressNotPermitted {
                throw WebhookTarget.Refused()  // the name changed its address since the check
            }
            guard response.status == 307 || response.status == 308, hops.count < Self.maximumRedirects,
                let location = response.fields["Location"], let next = Self.resolve(location, against: url),
                // Never from HTTPS down to plain HTTP: the signed body would cross in clear.
                !(url.scheme == .https && next.scheme == .http)
            else { return (response, hops) }
            hops.append("\(response.status) \(next)")
            url = next
        }
    }

    /// A `Location` value (RFC 9110 §10.2.2): an absolute http(s) URI, or an absolute path on the same origin.
    static func resolve(_ location: String, against base: HTTPURL) -> HTTPURL? {
        if location.hasPrefix("/") && !location.hasPrefix("//") {
            // Checked like any URL (no spaces or controls in the target), then joined to the origin.
            guard let checked = try? HTTPURL("\(base.scheme.rawValue)://\(base.hostField)\(location)") else { return nil }
            return checked
        }
        return try? HTTPURL(location)
    }

}

/// Runs `body`, failing with a timeout if it takes longer than `limit`.
func withDeadline<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw DeliveryTimeout(limit: limit)
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

struct DeliveryTimeout: Error, CustomStringConvertible {
    let limit: Duration
    var description: String { "no answer within \(limit)" }
}
