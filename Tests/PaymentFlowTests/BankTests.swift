import Foundation
import HTTPParser
import NetLab
import Synchronization
import TLSWrapper
import Testing

@testable import PaymentFlow

/// What the gateway side heard from the bank.
final class PaymentLog: Sendable {
    let list = Mutex<[Bank.Payment]>([])
}

/// The bank simulator as a real HTTPS service on loopback, driven by NetLab's client.
@Suite("Bank simulator over HTTPS", .timeLimit(.minutes(3)))
struct BankTests {
    final class Harness: Sendable {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-bank-\(UUID().uuidString)").path
        let bank: Bank
        let server: HTTPServer
        let client: HTTPClient
        let base: String
        let payments = PaymentLog()

        init() async throws {
            let ca = try LabCertificateAuthority(directory: directory)
            let leaf = try ca.issue(name: "bank.test")
            var serverTLS = TLSConfiguration.server(certificateChainFile: leaf.certificatePath, privateKeyFile: leaf.privateKeyPath)
            serverTLS.keyLog = nil
            let payments = self.payments
            bank = Bank(onPayment: { payment in payments.list.withLock { $0.append(payment) } })
            server = HTTPServer(router: bank.router)
            let address = try await server.start(host: "127.0.0.1", port: 0, tls: try TLSContext(serverTLS))
            var clientTLS = TLSConfiguration.client(trustRootsFile: ca.certificatePath)
            clientTLS.keyLog = nil
            var configuration = HTTPClientConfiguration()
            configuration.tls = try TLSContext(clientTLS)
            client = HTTPClient(configuration: configuration)
            base = "https://bank.test:\(address.port)".replacingOccurrences(of: "bank.test", with: "localhost")
        }

        func post(_ path: String, _ json: [String: String]) async throws -> (Int, [String: Any]) {
            var request = HTTPClientRequest(method: .post, url: try HTTPURL(base + path))
            request.body = Array(try JSONSerialization.data(withJSONObject: json))
            try? request.fields.append(name: "Content-Type", value: "application/json")
            let response = try await client.execute(request)
            let object = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
            return (response.status, object)
        }

        func authorize(_ card: String, cvv: String = "123", month: String = "12", year: String = "2099", amount: String = "10000",
                       reference: String = "order-1") async throws -> (Int, [String: Any])
        {
            try await post("/cards/authorize", ["card_number": card, "cvv": cvv, "expiry_month": month, "expiry_year": year,
                                               "amount": amount, "reference": reference])
        }

        func stop() async {
            await client.shutdown()
            await server.shutdown()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    @Test("a reversal releases an approval, and anything arriving for that reference afterwards is refused; only the gateway may reverse")
    func reversal() async throws {
        let h = try await Harness()
        let approved = try await h.authorize("4411 1111 1111 1118", reference: "ref-1")
        #expect(approved.1["result"] as? String == "approved" && h.bank.balance == Rupiah(10000))
        #expect(try await h.post("/references/ref-1/reverse", [:]).1["reversed"] as? Bool == true)
        #expect(h.bank.balance == Rupiah(0))
        // The reversal came first (the gateway gave up); a late authorisation cannot take money.
        #expect(try await h.post("/references/ref-2/reverse", [:]).1["reversed"] as? Bool == false)
        let late = try await h.authorize("4411111111111118", reference: "ref-2")
        #expect(late.1["result"] as? String == "denied" && h.bank.balance == Rupiah(0))
        let account = try await h.post("/va", ["bank": "bca", "amount": "5000", "reference": "ref-2"]).1
        let number = try #require(account["va_number"] as? String)
        #expect(try await h.post("/va/\(number)/pay", [:]).0 == 410)

        let guarded = Bank(gatewayKey: "gateway-secret")
        let server = HTTPServer(router: guarded.router)
        let address = try await server.start(host: "127.0.0.1", port: 0)
        let plain = HTTPClient()
        #expect(try await plain.post("http://127.0.0.1:\(address.port)/references/x/reverse", body: []).status == 401)
        var request = HTTPClientRequest(method: .post, url: try HTTPURL("http://127.0.0.1:\(address.port)/references/x/reverse"))
        try request.fields.append(name: "Authorization", value: "Bearer gateway-secret")
        #expect(try await plain.execute(request).status == 200)
        await plain.shutdown()
        await server.shutdown()
        await h.stop()
    }

    @Test("cards: accept, bank deny, and 3-D Secure with the OTP")
    func cards() async throws {
        let h = try await Harness()
        let accepted = try await h.authorize("4411 1111 1111 1118")
        #expect(accepted.1["result"] as? String == "approved")
        #expect((accepted.1["approval_code"] as? String)?.count == 6)
        #expect(h.bank.balance == Rupiah(10000))
        #expect(try await h.authorize("4711111111111115").1["result"] as? String == "denied")
        // The fraud-outcome cards are approved by the bank: fraud detection is the gateway's job.
        #expect(try await h.authorize("4511111111111117").1["result"] as? String == "approved")

        let pending = try await h.authorize("4811111111111114")
        #expect(pending.1["result"] as? String == "authentication_required")
        let id = try #require(pending.1["authentication_id"] as? String)
        #expect(try await h.post("/3ds/\(id)", ["otp": "000000"]).1["result"] as? String == "denied")
        #expect(try await h.post("/3ds/\(id)", ["otp": "112233"]).0 == 404, "an authentication is used once")
        let again = try await h.authorize("4811111111111114")
        let second = try #require(again.1["authentication_id"] as? String)
        #expect(try await h.post("/3ds/\(second)", ["otp": "112233"]).1["result"] as? String == "approved")
        #expect(h.bank.balance == Rupiah(30000))
        await h.stop()
    }

    @Test("bad card details are denied with a reason; a bad amount is a 400")
    func badCards() async throws {
        let h = try await Harness()
        #expect(try await h.authorize("4811111111111115").1["message"] as? String == "invalid card number")
        #expect(try await h.authorize("4411111111111118", cvv: "999").1["message"] as? String == "CVV does not match")
        #expect(try await h.authorize("4411111111111118", month: "01", year: "2020").1["message"] as? String == "card expired")
        #expect(try await h.authorize("4411111111111118", amount: "0").0 == 400)
        #expect(try await h.authorize("4411111111111118", amount: "10.5").0 == 400)
        #expect(h.bank.balance == Rupiah(0))
        await h.stop()
    }

    @Test("virtual accounts: open, pay once at the ATM, the gateway hears of it")
    func virtualAccounts() async throws {
        let h = try await Harness()
        let opened = try await h.post("/va", ["bank": "bca", "amount": "250000", "reference": "order-va-1"])
        #expect(opened.0 == 201)
        let number = try #require(opened.1["va_number"] as? String)
        #expect(number.hasPrefix("8127") && number.count == 15)
        #expect(try await h.post("/va/\(number)/pay", [:]).1["paid"] as? Bool == true)
        #expect(h.payments.list.withLock { $0 } == [Bank.Payment(reference: "order-va-1", amount: Rupiah(250000), channel: "bca")])
        #expect(try await h.post("/va/\(number)/pay", [:]).0 == 409, "an account is paid once")
        #expect(try await h.post("/va/9999/pay", [:]).0 == 404)
        #expect(h.bank.balance == Rupiah(250000))
        await h.stop()
    }

    @Test("injected faults: a 503 drill, then back to normal")
    func faults() async throws {
        let h = try await Harness()
        var request = HTTPClientRequest(method: .post, url: try HTTPURL(h.base + "/faults"))
        request.body = Array("{\"latency_ms\":0,\"failure_status\":503}".utf8)
        _ = try await h.client.execute(request)
        #expect(try await h.authorize("4411111111111118").0 == 503)
        request.body = Array("{\"latency_ms\":0}".utf8)
        _ = try await h.client.execute(request)
        #expect(try await h.authorize("4411111111111118").0 == 200)
        await h.stop()
    }
}
