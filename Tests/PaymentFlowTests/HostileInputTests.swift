import Foundation
import HTTPParser
import NetLab
import Testing

@testable import PaymentFlow

extension WholeSystems {
/// What probing the running system found, each kept fixed: bodies that are not what a route
/// takes are refused with 400 (never 500, never accepted), the Basic scheme is read as any
/// case, the bank's account JSON is the gateway's alone, Snap keeps its memory bounded, and a
/// lab merchant's own key is not reset by a service started without it.
@Suite("Hostile input", .serialized, .timeLimit(.minutes(3)))
struct HostileInputTests {
    typealias Harness = RaceTests.Harness

    static func post(_ h: Harness, _ path: String, body: [UInt8], authorization: String? = nil) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(method: .post, url: try HTTPURL(h.system.urls[.gateway]! + path))
        request.body = body
        try request.fields.append(name: "Content-Type", value: "application/json")
        try request.fields.append(name: "Authorization", value: authorization ?? "Basic " + Data((h.system.options.serverKey + ":").utf8).base64EncodedString())
        return try await h.system.client.execute(request)
    }

    @Test("a charge body that is no JSON object is 400 (an array, invalid UTF-8, 100 000 nested brackets); `null` stays Midtrans' 500")
    func bodies() async throws {
        let h = try await Harness.start()
        #expect(try await Self.post(h, "/v2/charge", body: Array("[1,2]".utf8)).status == 400)
        #expect(try await Self.post(h, "/v2/charge", body: [0x7B, 0xFF, 0xFE, 0x7D]).status == 400)
        #expect(try await Self.post(h, "/v2/charge", body: Array(repeating: UInt8(ascii: "["), count: 100_000)).status == 400)
        #expect(try await Self.post(h, "/v2/charge", body: Array("\"text\"".utf8)).status == 400)
        #expect(try await Self.post(h, "/v2/charge", body: Array("null".utf8)).status == 500, "what the official SDKs' tests expect")
        await h.stop()
    }

    @Test("every payment service reads at most 1 MiB of body: a 10 MB charge is refused with 413, in Midtrans' JSON")
    func bodyLimit() async throws {
        for actor in PaymentActor.allCases {
            #expect(PaymentSystem.serverConfiguration(for: actor).limits.maxBodySize == 1024 * 1024, "\(actor)")
        }
        // The refusal itself, through the gateway's error path (the server's 413 for a
        // Content-Length over the limit is tested at the HTTP layer).
        let h = try await Harness.start()
        let response = try? await Self.post(h, "/v2/charge", body: Array(repeating: UInt8(ascii: " "), count: 10 * 1024 * 1024))
        if let response {
            #expect(response.status == 413)
            #expect((try? JSONSerialization.jsonObject(with: Data(response.body))) is [String: Any])
        }
        // Whether or not the client heard the 413 before the close, the gateway serves on.
        #expect(try await Self.post(h, "/v2/charge", body: Array("[1]".utf8)).status == 400)
        await h.stop()
    }

    @Test("the Basic scheme is case-insensitive (RFC 9110 §11.1)")
    func basicScheme() async throws {
        let h = try await Harness.start()
        let credentials = Data((h.system.options.serverKey + ":").utf8).base64EncodedString()
        let body = Array(#"{"payment_type":"qris","transaction_details":{"order_id":"scheme-1","gross_amount":1000}}"#.utf8)
        #expect(try await Self.post(h, "/v2/charge", body: body, authorization: "basic " + credentials).status == 200)
        #expect(try await Self.post(h, "/v2/charge", body: body, authorization: "Bearer " + credentials).status == 401)
        await h.stop()
    }

    @Test("an account's JSON at the bank (its reference: the gateway's transaction id) is the gateway's to read")
    func bankAccountsPrivate() async throws {
        let h = try await Harness.start()
        let number = try #require((try await h.vaCharge("private-va").body["va_numbers"] as? [[String: Any]])?.first?["va_number"] as? String)
        #expect(try await h.system.client.get(h.system.urls[.bank]! + "/va/\(number)").status == 401)
        #expect(try await h.system.client.get(h.system.urls[.bank]! + "/atm?number=\(number)").status == 200, "the ATM page shows the customer the amount")
        await h.stop()
    }

    @Test("Snap keeps what a page holds small: a 100 KB request is refused")
    func snapBodies() async throws {
        let h = try await Harness.start()
        let padding = String(repeating: "x", count: 100 * 1024)
        let body = Array(#"{"transaction_details":{"order_id":"big-1","gross_amount":1000},"custom_field1":"\#(padding)"}"#.utf8)
        #expect(try await Self.post(h, "/snap/v1/transactions", body: body).status == 400)
        await h.stop()
    }

    @Test("no server-side request forgery: a merchant not allowed private webhooks cannot point them at loopback; a failed delivery records a reason, not an address")
    func webhookTargets() async throws {
        let h = try await Harness.start()
        try h.system.store!.saveMerchant(MerchantAccount(merchantID: "G-PUBLIC", serverKey: "SB-Mid-server-public", clientKey: "SB-Mid-client-public",
                                                         notificationURL: h.system.urls[.bank]! + "/faults"))
        let body = Array(#"{"payment_type":"qris","transaction_details":{"order_id":"ssrf-1","gross_amount":1000}}"#.utf8)
        var overridden = HTTPClientRequest(method: .post, url: try HTTPURL(h.system.urls[.gateway]! + "/v2/charge"))
        overridden.body = body
        overridden.basicAuthorization(user: "SB-Mid-server-public")
        try overridden.fields.append(name: "Content-Type", value: "application/json")
        try overridden.fields.append(name: "X-Override-Notification", value: h.system.urls[.bank]! + "/va/1/close")
        #expect(try await h.system.client.execute(overridden).status == 400, "the charge names a loopback target")
        // Its dashboard URL leads to the bank beside the gateway: the webhook is given up, never sent.
        var plain = overridden
        plain.fields = HTTPFields(["Content-Type": "application/json"])
        plain.basicAuthorization(user: "SB-Mid-server-public")
        #expect(try await h.system.client.execute(plain).status == 200)
        try await EndToEndTests.eventually("the webhook is given up") {
            try h.system.store!.notifications(merchantID: "G-PUBLIC", orderID: "ssrf-1").first?.gaveUpAt != nil
        }
        let refused = try #require(try h.system.store!.notifications(merchantID: "G-PUBLIC", orderID: "ssrf-1").first)
        #expect(refused.lastResult == "refused: the URL leads to a private or loopback address" && refused.attempts == 1)
        // The lab merchant may use loopback; a closed port is recorded as a reason only.
        var closed = HTTPClientRequest(method: .post, url: try HTTPURL(h.system.urls[.gateway]! + "/v2/charge"))
        closed.body = Array(#"{"payment_type":"qris","transaction_details":{"order_id":"ssrf-2","gross_amount":1000}}"#.utf8)
        closed.basicAuthorization(user: h.system.options.serverKey)
        try closed.fields.append(name: "Content-Type", value: "application/json")
        try closed.fields.append(name: "X-Override-Notification", value: "http://127.0.0.1:1/notifications")
        #expect(try await h.system.client.execute(closed).status == 200)
        try await EndToEndTests.eventually("a failed attempt") {
            try h.system.store!.notifications(merchantID: h.merchantID, orderID: "ssrf-2").first?.lastResult != nil
        }
        let result = try h.system.store!.notifications(merchantID: h.merchantID, orderID: "ssrf-2").first?.lastResult
        #expect(result == "no answer: connection refused", "\(result ?? "-")")
        await h.stop()
    }

    @Test("a service started without --server-key keeps the lab merchant's key: the public default does not come back")
    func keysKept() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-keys-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var secret = PaymentSystemOptions(stateDirectory: directory)
        secret.serverKey = "SB-Mid-server-OwnSecretKey123"
        secret.clientKey = "SB-Mid-client-OwnClientKey123"
        let first = try await PaymentSystem.start(secret)
        await first.shutdown()
        let second = try await PaymentSystem.start(PaymentSystemOptions(stateDirectory: directory))
        #expect(second.options.serverKey == "SB-Mid-server-OwnSecretKey123")
        let merchants = try second.store!.merchants()
        #expect(!merchants.contains { $0.serverKey == PaymentSystemOptions.defaultServerKey }, "\(merchants.map(\.merchantID))")
        await second.shutdown()
    }
}
}  // extension WholeSystems
