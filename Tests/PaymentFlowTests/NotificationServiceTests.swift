import Foundation
import HTTPParser
import NetLab
import TCPSocket
import Testing

@testable import PaymentFlow

/// A merchant's webhook endpoint that records what arrives, answers `answer(n)` to the n-th
/// request (0-based), and may stop each request at a checkpoint first (a hanging endpoint).
final class RecordingEndpoint: Sendable {
    final class Log: Sendable {
        let list = Locked<[(order: String, status: String)]>([])
    }

    let log = Log()
    let server: HTTPServer
    let url: String

    init(gate: Checkpoints<String>? = nil, answer: @escaping @Sendable (Int) -> Int = { _ in 200 }) async throws {
        let log = self.log
        var router = Router()
        router.post("/hook") { request in
            let note = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] ?? [:]
            let index = log.list.withLock { list -> Int in
                list.append((note["order_id"] as? String ?? "", note["transaction_status"] as? String ?? ""))
                return list.count - 1
            }
            await gate?.pass("hook")
            return HTTPResponse(status: answer(index), fields: HTTPFields(), body: .bytes([]))
        }
        server = HTTPServer(router: router)
        url = "http://127.0.0.1:\(try await server.start(host: "127.0.0.1", port: 0).port)/hook"
    }

    var statuses: [String] { log.list.withLock { $0.map(\.status) } }
    var orders: [String] { log.list.withLock { $0.map(\.order) } }
}

extension WholeSystems {
@Suite("Notification service: order and fairness", .serialized, .timeLimit(.minutes(3)))
struct NotificationServiceTests {
    static func charge(_ system: PaymentSystem, order: String, key: String, notify url: String? = nil) async throws -> [String: Any] {
        var request = HTTPClientRequest(method: .post, url: try HTTPURL(system.urls[.gateway]! + "/v2/charge"))
        request.body = Array(#"{"payment_type":"qris","transaction_details":{"order_id":"\#(order)","gross_amount":5000}}"#.utf8)
        request.basicAuthorization(user: key)
        if let url { try request.fields.append(name: "X-Override-Notification", value: url) }
        let response = try await system.client.execute(request)
        try #require(response.status == 200, "\(response.text)")
        return (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
    }

    @Test("per-order ordering: while 'pending' is being retried, 'settlement' waits behind it — never newer then older")
    func perOrderOrdering() async throws {
        let system = try await EndToEndTests.start()
        // The endpoint refuses the first two attempts (503): the pending webhook is retried.
        let endpoint = try await RecordingEndpoint { index in index < 2 ? 503 : 200 }
        let answer = try await Self.charge(system, order: "ordered-1", key: system.options.serverKey, notify: endpoint.url)
        try await EndToEndTests.eventually("the pending webhook failed once") { endpoint.statuses.count >= 1 }
        let va = try #require(try system.store!.find(merchantID: system.options.merchantID, id: "ordered-1")?.vaNumber)
        _ = answer
        try await system.customer().payAtBank(va)
        try await EndToEndTests.eventually("both delivered") {
            try system.store!.notifications(merchantID: system.options.merchantID, orderID: "ordered-1").allSatisfy { $0.deliveredAt != nil }
                && endpoint.statuses.last == "settlement"
        }
        let statuses = endpoint.statuses
        let lastPending = try #require(statuses.lastIndex(of: "pending"))
        let firstSettlement = try #require(statuses.firstIndex(of: "settlement"))
        #expect(lastPending < firstSettlement, "arrival order: \(statuses)")
        await endpoint.server.shutdown(gracePeriod: .zero)
        await EndToEndTests.stop(system)
    }

    @Test("per-merchant fairness: a merchant whose endpoint hangs holds at most its share; another merchant's webhook is delivered meanwhile")
    func fairness() async throws {
        // Deliveries to the hanging endpoint must not time out (and be retried) while the test
        // runs, however slow the machine: only the checkpoint decides when they end.
        let system = try await EndToEndTests.start { $0.notificationTimeout = .seconds(600) }
        // Every request to the slow endpoint stops there until the test lets them all go.
        let gate = Checkpoints<String>()
        let holds = (0..<(NotificationService.perMerchantConcurrency + 3)).map { _ in gate.hold("hook") }
        let slow = try await RecordingEndpoint(gate: gate)
        let fast = try await RecordingEndpoint()
        try system.store!.saveMerchant(MerchantAccount(merchantID: "G-SLOW", serverKey: "SB-Mid-server-slow", clientKey: "SB-Mid-client-slow",
                                                       notificationURL: slow.url, allowsPrivateWebhooks: true))
        try system.store!.saveMerchant(MerchantAccount(merchantID: "G-FAST", serverKey: "SB-Mid-server-fast", clientKey: "SB-Mid-client-fast",
                                                       notificationURL: fast.url, allowsPrivateWebhooks: true))
        for n in 0..<(NotificationService.perMerchantConcurrency + 3) {
            _ = try await Self.charge(system, order: "slow-\(n)", key: "SB-Mid-server-slow")
        }
        try await EndToEndTests.eventually("the slow merchant's endpoint is busy", within: .seconds(60)) {
            slow.orders.count == NotificationService.perMerchantConcurrency
        }
        _ = try await Self.charge(system, order: "fast-1", key: "SB-Mid-server-fast")
        try await EndToEndTests.eventually("the other merchant's webhook arrives while the slow one still hangs", within: .seconds(60)) {
            try system.store!.notifications(merchantID: "G-FAST", orderID: "fast-1").first?.deliveredAt != nil
        }
        #expect(slow.orders.count == NotificationService.perMerchantConcurrency, "the slow merchant never held more than its share")
        for hold in holds { hold.release() }
        try await EndToEndTests.eventually("then the slow merchant's webhooks all arrive", within: .seconds(60)) {
            try system.store!.notifications(merchantID: "G-SLOW", orderID: nil).allSatisfy { $0.deliveredAt != nil }
        }
        await slow.server.shutdown(gracePeriod: .zero)
        await fast.server.shutdown(gracePeriod: .zero)
        await EndToEndTests.stop(system)
    }
}
}  // extension WholeSystems
