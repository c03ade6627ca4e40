import Foundation
import HTTPParser
import NetLab
import TCPSocket
import TLSWrapper
import Testing

@testable import PaymentFlow

/// Gateway and bank as HTTPS services on loopback; the merchant side is NetLab's client with
/// the server key, as Midtrans' SDKs send it.
@Suite("Gateway payment service over HTTPS", .timeLimit(.minutes(3)))
struct GatewayTests {
    static let merchant = MerchantAccount(merchantID: "G100000001", serverKey: "SB-Mid-server-lab-1", clientKey: "SB-Mid-client-lab-1")
    static let other = MerchantAccount(merchantID: "G100000002", serverKey: "SB-Mid-server-lab-2", clientKey: "SB-Mid-client-lab-2")

    final class GatewayBox: Sendable {
        let gateway = Locked<Gateway?>(nil)
    }

    final class Lab: Sendable {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-gw-\(UUID().uuidString)").path
        let bankServer: HTTPServer
        let gatewayServer: HTTPServer
        let gateway: Gateway
        let client: HTTPClient
        let base: String

        init() async throws {
            let ca = try LabCertificateAuthority(directory: directory)
            let leaf = try ca.issue(name: "localhost")
            var serverTLS = TLSConfiguration.server(certificateChainFile: leaf.certificatePath, privateKeyFile: leaf.privateKeyPath)
            serverTLS.keyLog = nil
            let serverContext = try TLSContext(serverTLS)
            var clientTLS = TLSConfiguration.client(trustRootsFile: ca.certificatePath)
            clientTLS.keyLog = nil
            var clientConfiguration = HTTPClientConfiguration()
            clientConfiguration.tls = try TLSContext(clientTLS)

            // The bank tells the gateway when a virtual account is paid.
            let box = GatewayBox()
            let bank = try Bank(onPayment: { payment in _ = try? await box.gateway.withLock { $0 }?.bankPaid(reference: payment.reference) })
            bankServer = HTTPServer(router: bank.router)
            let bankAddress = try await bankServer.start(host: "127.0.0.1", port: 0, tls: serverContext)
            let store = try SQLiteGatewayStore(path: directory + "/gateway.sqlite")
            try store.saveMerchant(GatewayTests.merchant)
            try store.saveMerchant(GatewayTests.other)
            let gateway = Gateway(
                configuration: GatewayConfiguration(bankURL: "https://localhost:\(bankAddress.port)", publicURL: "", bankNoticeKey: "bank-secret"),
                store: store, accounts: try SQLiteAccountStore(database: store.database), bankClient: HTTPClient(configuration: clientConfiguration))
            box.gateway.withLock { $0 = gateway }
            let gatewayServer = HTTPServer(configuration: Gateway.serverConfiguration, router: gateway.router)
            let gatewayAddress = try await gatewayServer.start(host: "127.0.0.1", port: 0, tls: serverContext)
            gateway.publicURL = "https://localhost:\(gatewayAddress.port)"
            self.gateway = gateway
            self.gatewayServer = gatewayServer
            base = gateway.publicURL
            client = HTTPClient(configuration: clientConfiguration)
        }

        func call(_ method: HTTPMethod, _ path: String, json: [String: Any]? = nil, key: String = GatewayTests.merchant.serverKey)
            async throws -> (Int, [String: Any])
        {
            var request = HTTPClientRequest(method: method, url: try HTTPURL(base + path))
            if let json { request.body = Array(try JSONSerialization.data(withJSONObject: json)) }
            request.basicAuthorization(user: key)
            try? request.fields.append(name: "Content-Type", value: "application/json")
            let response = try await client.execute(request)
            return (response.status, (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:])
        }

        func cardToken(_ number: String) async throws -> String {
            let (_, body) = try await call(.get, "/v2/token?client_key=\(GatewayTests.merchant.clientKey)&card_number=\(number)&card_exp_month=12&card_exp_year=2099&card_cvv=123")
            return try #require(body["token_id"] as? String)
        }

        func chargeCard(_ number: String, order: String, amount: Int = 10000) async throws -> (Int, [String: Any]) {
            let token = try await cardToken(number)
            return try await call(.post, "/v2/charge", json: [
                "payment_type": "credit_card", "transaction_details": ["order_id": order, "gross_amount": amount],
                "credit_card": ["token_id": token, "authentication": true],
            ])
        }

        func stop() async {
            await client.shutdown()
            await gatewayServer.shutdown()
            await bankServer.shutdown()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    @Test("card accepted: 200 capture/accept, masked card, approval code; status agrees")
    func cardAccepted() async throws {
        let lab = try await Lab()
        let (http, body) = try await lab.chargeCard("4411111111111118", order: "order-1")
        #expect(http == 200)
        #expect(body["status_code"] as? String == "200")
        #expect(body["transaction_status"] as? String == "capture")
        #expect(body["fraud_status"] as? String == "accept")
        #expect(body["gross_amount"] as? String == "10000.00")
        #expect(body["masked_card"] as? String == "44111111-1118")
        let status = try await lab.call(.get, "/v2/order-1/status")
        #expect(status.1["transaction_status"] as? String == "capture")
        await lab.stop()
    }

    @Test("bank deny → 202 deny; fraud deny → deny/deny; fraud challenge → approve → accept")
    func declinesAndChallenge() async throws {
        let lab = try await Lab()
        let denied = try await lab.chargeCard("4711111111111115", order: "o-deny")
        #expect(denied.1["status_code"] as? String == "202" && denied.1["transaction_status"] as? String == "deny")
        let fraud = try await lab.chargeCard("4611111111111116", order: "o-fraud")
        #expect(fraud.1["fraud_status"] as? String == "deny")
        let challenged = try await lab.chargeCard("4511111111111117", order: "o-challenge")
        #expect(challenged.1["fraud_status"] as? String == "challenge")
        #expect(challenged.1["status_code"] as? String == "201")
        let approved = try await lab.call(.post, "/v2/o-challenge/approve")
        #expect(approved.1["fraud_status"] as? String == "accept")
        #expect(try await lab.call(.post, "/v2/o-challenge/approve").0 == 412, "approve twice is illegal")
        await lab.stop()
    }

    @Test("3-D Secure: pending with a redirect, then the OTP captures (a wrong OTP denies)")
    func threeDSecure() async throws {
        let lab = try await Lab()
        let pending = try await lab.chargeCard("4811111111111114", order: "o-3ds")
        #expect(pending.1["transaction_status"] as? String == "pending")
        let redirect = try #require(pending.1["redirect_url"] as? String)
        let id = try #require(pending.1["transaction_id"] as? String)
        #expect(redirect.contains("/v2/3ds/\(id)?client_key="))
        let done = try await lab.call(.post, "/v2/3ds/\(id)", json: ["otp": "112233", "client_key": GatewayTests.merchant.clientKey])
        #expect(done.1["transaction_status"] as? String == "capture")
        let wrong = try await lab.chargeCard("4811111111111114", order: "o-3ds-bad")
        let wrongID = try #require(wrong.1["transaction_id"] as? String)
        let denied = try await lab.call(.post, "/v2/3ds/\(wrongID)", json: ["otp": "000000", "client_key": GatewayTests.merchant.clientKey])
        #expect(denied.1["transaction_status"] as? String == "deny")
        await lab.stop()
    }

    @Test("virtual account: pending with a VA number, paid at the bank's ATM, then settlement")
    func virtualAccount() async throws {
        let lab = try await Lab()
        let (http, body) = try await lab.call(.post, "/v2/charge", json: [
            "payment_type": "bank_transfer", "transaction_details": ["order_id": "o-va", "gross_amount": 250000],
            "bank_transfer": ["bank": "bca"],
        ])
        #expect(http == 200 && body["status_code"] as? String == "201")
        let vas = try #require(body["va_numbers"] as? [[String: Any]])
        let number = try #require(vas.first?["va_number"] as? String)
        let bankURL = lab.gateway.configuration.bankURL
        var pay = HTTPClientRequest(method: .post, url: try HTTPURL(bankURL + "/va/\(number)/pay"))
        pay.body = Array("{}".utf8)
        #expect(try await lab.client.execute(pay).status == 200)
        #expect(try await lab.call(.get, "/v2/o-va/status").1["transaction_status"] as? String == "settlement")
        await lab.stop()
    }

    @Test("Midtrans' error codes: 401 wrong key, 404 unknown, 406 duplicate order, 400 validation, 411 bad token, 407 expire, 412 illegal")
    func errors() async throws {
        let lab = try await Lab()
        #expect(try await lab.call(.get, "/v2/x/status", key: "SB-Mid-server-wrong").0 == 401)
        #expect(try await lab.call(.get, "/v2/nope/status").0 == 404)
        // Even the server's own 405 is JSON (the SDK parses every body).
        let wrongMethod = try await lab.call(.delete, "/v2/charge")
        #expect(wrongMethod.0 == 405 && wrongMethod.1["status_code"] as? String == "405")
        _ = try await lab.chargeCard("4411111111111118", order: "o-dup")
        let duplicate = try await lab.chargeCard("4411111111111118", order: "o-dup")
        #expect(duplicate.0 == 406 && duplicate.1["status_code"] as? String == "406")
        let invalid = try await lab.call(.post, "/v2/charge", json: ["payment_type": "credit_card", "transaction_details": ["order_id": "o-0", "gross_amount": 0]])
        #expect(invalid.0 == 400)
        #expect((invalid.1["validation_messages"] as? [String])?.isEmpty == false)
        let badToken = try await lab.call(.post, "/v2/charge", json: [
            "payment_type": "credit_card", "transaction_details": ["order_id": "o-t", "gross_amount": 5000], "credit_card": ["token_id": "nope"],
        ])
        #expect(badToken.0 == 411)
        let va = try await lab.call(.post, "/v2/charge", json: [
            "payment_type": "bank_transfer", "transaction_details": ["order_id": "o-exp", "gross_amount": 1000], "bank_transfer": ["bank": "bni"],
        ])
        #expect(va.1["transaction_status"] as? String == "pending")
        let expired = try await lab.call(.post, "/v2/o-exp/expire")
        #expect(expired.0 == 200 && expired.1["status_code"] as? String == "407")
        #expect(try await lab.call(.post, "/v2/o-exp/cancel").0 == 412)
        #expect(try await lab.call(.post, "/v2/o-dup/refund").0 == 412, "refund before settlement")
        // Another merchant cannot see this merchant's transaction.
        #expect(try await lab.call(.get, "/v2/o-dup/status", key: GatewayTests.other.serverKey).0 == 404)
        await lab.stop()
    }

    @Test("concurrent charges with one order_id: exactly one goes through, the rest get 406")
    func concurrentDuplicates() async throws {
        let lab = try await Lab()
        let tokens = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<4 { group.addTask { try await lab.cardToken("4411111111111118") } }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        let codes = try await withThrowingTaskGroup(of: Int.self) { group in
            for token in tokens {
                group.addTask {
                    try await lab.call(.post, "/v2/charge", json: [
                        "payment_type": "credit_card", "transaction_details": ["order_id": "o-race", "gross_amount": 7000],
                        "credit_card": ["token_id": token],
                    ]).0
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(codes.sorted() == [200, 406, 406, 406])
        await lab.stop()
    }

    @Test("refunds: concurrent partial refunds never exceed the amount; a bad amount is 400; cancel answers 200")
    func refundsAndCancel() async throws {
        let lab = try await Lab()
        let (_, body) = try await lab.call(.post, "/v2/charge", json: [
            "payment_type": "bank_transfer", "transaction_details": ["order_id": "o-ref", "gross_amount": 10000], "bank_transfer": ["bank": "bri"],
        ])
        let number = try #require((body["va_numbers"] as? [[String: Any]])?.first?["va_number"] as? String)
        var pay = HTTPClientRequest(method: .post, url: try HTTPURL(lab.gateway.configuration.bankURL + "/va/\(number)/pay"))
        pay.body = Array("{}".utf8)
        _ = try await lab.client.execute(pay)
        #expect(try await lab.call(.post, "/v2/o-ref/refund", json: ["amount": "-5"]).0 == 400)
        let codes = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<2 { group.addTask { try await lab.call(.post, "/v2/o-ref/refund", json: ["amount": 6000]).0 } }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(codes.sorted() == [200, 414], "two refunds of 6,000 on 10,000: one must be refused")
        let cancellable = try await lab.call(.post, "/v2/charge", json: [
            "payment_type": "bank_transfer", "transaction_details": ["order_id": "o-can", "gross_amount": 1000], "bank_transfer": ["bank": "bca"],
        ])
        #expect(cancellable.1["fraud_status"] as? String == "accept")
        let cancelled = try await lab.call(.post, "/v2/o-can/cancel")
        #expect(cancelled.0 == 200 && cancelled.1["status_code"] as? String == "200")
        #expect(cancelled.1["transaction_status"] as? String == "cancel")
        // A cancelled order id may be charged again.
        let again = try await lab.call(.post, "/v2/charge", json: [
            "payment_type": "bank_transfer", "transaction_details": ["order_id": "o-can", "gross_amount": 1000], "bank_transfer": ["bca": "x", "bank": "bca"],
        ])
        #expect(again.1["transaction_status"] as? String == "pending")
        #expect(try await lab.call(.get, "/v2/o-can/status").1["transaction_status"] as? String == "pending", "status shows the latest")
        await lab.stop()
    }
}
