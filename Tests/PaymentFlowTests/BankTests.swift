import Foundation
import HTTPParser
import NetLab
import TCPSocket
import TLSWrapper
import Testing

@testable import PaymentFlow

/// What the gateway side heard from the bank.
final class PaymentLog: Sendable {
    let list = Locked<[BankAPI.PaymentNotice]>([])
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

        /// A bank on `ledgerPath` (nil: books in memory), with `gatewayKey` guarding its gateway-only routes.
        init(ledgerPath: String? = nil, gatewayKey: String? = nil) async throws {
            let ca = try LabCertificateAuthority(directory: directory)
            let leaf = try ca.issue(name: "bank.test")
            var serverTLS = TLSConfiguration.server(certificateChainFile: leaf.certificatePath, privateKeyFile: leaf.privateKeyPath)
            serverTLS.keyLog = nil
            let payments = self.payments
            bank = try Bank(ledgerPath: ledgerPath, onPayment: { payment in payments.list.withLock { $0.append(payment) } }, gatewayKey: gatewayKey)
            server = HTTPServer(router: bank.router)
            let address = try await server.start(host: "127.0.0.1", port: 0, tls: try TLSContext(serverTLS))
            var clientTLS = TLSConfiguration.client(trustRootsFile: ca.certificatePath)
            clientTLS.keyLog = nil
            var configuration = HTTPClientConfiguration()
            configuration.tls = try TLSContext(clientTLS)
            client = HTTPClient(configuration: configuration)
            base = "https://localhost:\(address.port)"
        }

        func post(_ path: String, _ json: [String: Any], key: String? = nil) async throws -> (Int, [String: Any]) {
            var request = HTTPClientRequest(method: .post, url: try HTTPURL(base + path))
            request.body = Array(try JSONSerialization.data(withJSONObject: json))
            try request.fields.append(name: "Content-Type", value: "application/json")
            if let key { try request.fields.append(name: "Authorization", value: "Bearer \(key)") }
            return try await answer(request)
        }

        func get(_ path: String) async throws -> (Int, [String: Any]) {
            try await answer(HTTPClientRequest(method: .get, url: try HTTPURL(base + path)))
        }

        private func answer(_ request: HTTPClientRequest) async throws -> (Int, [String: Any]) {
            let response = try await client.execute(request)
            let object = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
            return (response.status, object)
        }

        /// `authentication`: the merchant asks for 3-D Secure (an enrolled card then waits for the OTP).
        func authorize(_ card: String, cvv: String = "123", month: String = "12", year: String = "2099", amount: Any = 10000,
                       reference: String = "order-1", authentication: Bool = true) async throws -> (Int, [String: Any])
        {
            try await post("/cards/authorize", ["card_number": card, "cvv": cvv, "expiry_month": month, "expiry_year": year,
                                               "amount": amount, "reference": reference, "authentication": authentication])
        }

        func open(_ amount: Int, reference: String) async throws -> String {
            let (status, account) = try await post("/va", ["bank": "bca", "amount": amount, "reference": reference])
            try #require(status == 201)
            return try #require(account["va_number"] as? String)
        }

        func stop() async {
            await client.shutdown()
            await server.shutdown()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    /// Set once, read from any task.
    final class Flag: Sendable {
        private let value = Locked(false)
        func set() { value.withLock { $0 = true } }
        var isSet: Bool { value.withLock { $0 } }
    }

    /// A fresh folder for ledger files that outlive one ``Harness`` (removed by the caller).
    static func folder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-ledger-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test("a reversal releases an approval and drops an OTP wait; anything arriving for that reference afterwards is refused; only the gateway may reverse or refund")
    func reversal() async throws {
        let h = try await Harness()
        let approved = try await h.authorize("4411 1111 1111 1118", reference: "ref-1")
        #expect(try approved.1["result"] as? String == "approved" && h.bank.balance == Rupiah(10000))
        let undone = try await h.post("/references/ref-1/reverse", [:]).1
        #expect(undone["reversed"] as? Bool == true && undone["returned"] as? Int == 10000)
        #expect(try h.bank.balance == Rupiah(0))
        // The reversal came first (the gateway gave up); a late authorisation cannot take money.
        #expect(try await h.post("/references/ref-2/reverse", [:]).1["reversed"] as? Bool == false)
        let late = try await h.authorize("4411111111111118", reference: "ref-2")
        #expect(try late.1["result"] as? String == "denied" && h.bank.balance == Rupiah(0))
        let number = try await h.open(5000, reference: "ref-2")
        #expect(try await h.get("/va/\(number)").1["closed"] as? Bool == true, "an account for a reversed reference is born closed")
        #expect(try await h.post("/va/\(number)/pay", [:]).0 == 410)
        // A 3-D Secure wait dropped by a reversal: its OTP is denied, not approved.
        let waiting = try await h.authorize("4811111111111114", reference: "ref-3")
        let id = try #require(waiting.1["authentication_id"] as? String)
        #expect(try await h.post("/references/ref-3/reverse", [:]).1["reversed"] as? Bool == true)
        let otp = try await h.post("/3ds/\(id)", ["otp": "112233"])
        #expect(try otp.0 == 200 && otp.1["result"] as? String == "denied" && h.bank.balance == Rupiah(0))
        await h.stop()

        let guarded = try await Harness(gatewayKey: "gateway-secret")
        #expect(try await guarded.post("/references/x/reverse", [:]).0 == 401)
        #expect(try await guarded.post("/references/x/reverse", [:], key: "wrong-secret").0 == 401)
        #expect(try await guarded.post("/references/x/reverse", [:], key: "gateway-secret").0 == 200)
        #expect(try await guarded.post("/references/x/refund", ["amount": 1, "refund_key": "k"]).0 == 401)
        await guarded.stop()
    }

    @Test("cards: accept, bank deny, and 3-D Secure with the OTP")
    func cards() async throws {
        let h = try await Harness()
        let accepted = try await h.authorize("4411 1111 1111 1118")
        #expect(accepted.1["result"] as? String == "approved")
        #expect((accepted.1["approval_code"] as? String)?.count == 6)
        #expect(try h.bank.balance == Rupiah(10000))
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
        #expect(try h.bank.balance == Rupiah(30000))
        await h.stop()
    }

    @Test("bad card details are denied with a reason; a bad amount (zero, a fraction, the old string form) is a 400")
    func badCards() async throws {
        let h = try await Harness()
        #expect(try await h.authorize("4811111111111115").1["message"] as? String == "invalid card number")
        #expect(try await h.authorize("4411111111111118", cvv: "999").1["message"] as? String == "CVV does not match")
        #expect(try await h.authorize("4411111111111118", month: "01", year: "2020").1["message"] as? String == "card expired")
        #expect(try await h.authorize("4411111111111118", amount: 0).0 == 400)
        #expect(try await h.authorize("4411111111111118", amount: 10.5).0 == 400)
        #expect(try await h.authorize("4411111111111118", amount: -5).0 == 400)
        #expect(try await h.authorize("4411111111111118", amount: "10000").0 == 400)
        #expect(try h.bank.balance == Rupiah(0))
        await h.stop()
    }

    @Test("virtual accounts: open, pay once at the ATM, the gateway hears of it")
    func virtualAccounts() async throws {
        let h = try await Harness()
        let number = try await h.open(250000, reference: "order-va-1")
        #expect(number.hasPrefix("8127") && number.count == 15)
        let paid = try await h.post("/va/\(number)/pay", [:]).1
        #expect(paid["paid"] as? Bool == true && paid["amount"] as? Int == 250000)
        #expect(h.payments.list.withLock { $0 } == [BankAPI.PaymentNotice(reference: "order-va-1", amount: Rupiah(250000), channel: "bca")])
        #expect(try await h.post("/va/\(number)/pay", [:]).0 == 409, "an account is paid once")
        #expect(try await h.post("/va/9999/pay", [:]).0 == 404)
        #expect(try h.bank.balance == Rupiah(250000))
        #expect(try await h.get("/balance").1["received"] as? Int == 250000)
        let closed = try await h.open(1000, reference: "order-va-2")
        #expect(try await h.post("/va/\(closed)/close", [:]).1["closed"] as? Bool == true)
        #expect(try await h.post("/va/\(closed)/pay", [:]).0 == 410)
        await h.stop()
    }

    @Test("injected faults: a 503 drill, then back to normal")
    func faults() async throws {
        let h = try await Harness()
        _ = try await h.post("/faults", ["latency_ms": 0, "failure_status": 503])
        #expect(try await h.authorize("4411111111111118").0 == 503)
        #expect(try h.bank.balance == Rupiah(0), "a failure instead of deciding moves no money")
        _ = try await h.post("/faults", ["latency_ms": 0])
        #expect(try await h.authorize("4411111111111118").0 == 200)
        await h.stop()
    }

    @Test("a bank restarted on its ledger file resumes balance, accounts and OTP waits, and never reuses an account number")
    func restart() async throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/bank.sqlite"

        let first = try await Harness(ledgerPath: path)
        var numbers = [try await first.open(250000, reference: "va-paid"), try await first.open(7000, reference: "va-open")]
        _ = try await first.post("/va/\(numbers[0])/pay", [:])
        _ = try await first.authorize("4411111111111118", reference: "card")
        _ = try await first.post("/references/gone/reverse", [:])
        let waiting = try await first.authorize("4811111111111114", amount: 3000, reference: "otp")
        let id = try #require(waiting.1["authentication_id"] as? String)
        #expect(try first.bank.balance == Rupiah(260000))
        await first.stop()

        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600, "the ledger file is the bank's alone")

        let second = try await Harness(ledgerPath: path)
        #expect(try second.bank.balance == Rupiah(260000))
        #expect(try await second.get("/va/\(numbers[0])").1["paid"] as? Bool == true)
        #expect(try await second.post("/va/\(numbers[0])/pay", [:]).0 == 409)
        #expect(try await second.post("/va/\(numbers[1])/pay", [:]).1["paid"] as? Bool == true)
        #expect(try await second.post("/3ds/\(id)", ["otp": "112233"]).1["result"] as? String == "approved", "the OTP wait survived")
        #expect(try await second.authorize("4411111111111118", reference: "gone").1["result"] as? String == "denied", "still reversed")
        for reference in ["more-1", "more-2", "more-3"] { numbers.append(try await second.open(1000, reference: reference)) }
        #expect(Set(numbers).count == numbers.count, "account numbers are unique for ever: \(numbers)")
        #expect(try second.bank.balance == Rupiah(270000))
        await second.stop()
    }

    @Test("a reversal gives a paid account's money back and marks it returned; after partial refunds it returns only what is still held")
    func reverseReturnsMoney() async throws {
        let h = try await Harness()
        let number = try await h.open(250000, reference: "late")
        _ = try await h.post("/va/\(number)/pay", [:])
        #expect(try h.bank.balance == Rupiah(250000))
        let reversal = try await h.post("/references/late/reverse", [:]).1
        #expect(reversal["reversed"] as? Bool == true && reversal["returned"] as? Int == 250000)
        let account = try await h.get("/va/\(number)").1
        #expect(account["paid"] as? Bool == true && account["returned"] as? Bool == true && account["closed"] as? Bool == true)
        #expect(try h.bank.balance == Rupiah(0) && h.bank.holding(reference: "late") == Rupiah(0))
        let again = try await h.post("/references/late/reverse", [:]).1
        #expect(again["reversed"] as? Bool == false && again["returned"] as? Int == 0, "a reversal is idempotent")

        _ = try await h.authorize("4411111111111118", reference: "partly")
        #expect(try await h.post("/references/partly/refund", ["amount": 3000, "refund_key": "r1"]).1["held"] as? Int == 7000)
        let rest = try await h.post("/references/partly/reverse", [:]).1
        #expect(rest["returned"] as? Int == 7000)
        #expect(try h.bank.balance == Rupiah(0) && h.bank.holding(reference: "partly") == Rupiah(0))
        await h.stop()
    }

    @Test("a refund key refunds once: a repeat answers the holding without moving money; the key with another amount is a 409")
    func refundOnce() async throws {
        let h = try await Harness()
        _ = try await h.authorize("4411111111111118", amount: 10000, reference: "order")
        let first = try await h.post("/references/order/refund", ["amount": 4000, "refund_key": "k1"])
        #expect(first.0 == 200 && first.1["held"] as? Int == 6000 && first.1["reference"] as? String == "order")
        let repeated = try await h.post("/references/order/refund", ["amount": 4000, "refund_key": "k1"])
        #expect(repeated.0 == 200 && repeated.1["held"] as? Int == 6000)
        #expect(try h.bank.holding(reference: "order") == Rupiah(6000) && h.bank.balance == Rupiah(6000))
        #expect(try await h.post("/references/order/refund", ["amount": 5000, "refund_key": "k1"]).0 == 409)
        #expect(try await h.post("/references/order/refund", ["amount": 6000, "refund_key": "k2"]).1["held"] as? Int == 0)
        #expect(try h.bank.balance == Rupiah(0))
        await h.stop()
    }

    @Test("a refund of more than is held for the reference is refused and moves nothing")
    func refundOverHolding() async throws {
        let h = try await Harness()
        _ = try await h.authorize("4411111111111118", amount: 10000, reference: "order")
        let over = try await h.post("/references/order/refund", ["amount": 10001, "refund_key": "k1"])
        #expect(over.0 == 409)
        #expect(try await h.post("/references/unknown/refund", ["amount": 1, "refund_key": "k1"]).0 == 409)
        #expect(try await h.post("/references/order/refund", ["amount": 0, "refund_key": "k0"]).0 == 400)
        #expect(try h.bank.holding(reference: "order") == Rupiah(10000))
        // The refused key was not spent: the same key with an amount that fits goes through.
        #expect(try await h.post("/references/order/refund", ["amount": 10000, "refund_key": "k1"]).1["held"] as? Int == 0)
        await h.stop()
    }

    @Test("GET /references/{r} agrees with the books: approvals and paid accounts, less refunds and reversals")
    func holdings() async throws {
        let h = try await Harness()
        _ = try await h.authorize("4411111111111118", amount: 10000, reference: "a")
        let waiting = try await h.authorize("5211111111111117", amount: 2500, reference: "a")
        let id = try #require(waiting.1["authentication_id"] as? String)
        _ = try await h.post("/3ds/\(id)", ["otp": "112233"])
        let paidA = try await h.open(40000, reference: "a")
        _ = try await h.post("/va/\(paidA)/pay", [:])
        _ = try await h.open(99000, reference: "a")  // unpaid: holds nothing
        _ = try await h.post("/references/a/refund", ["amount": 1500, "refund_key": "r"])
        let paidB = try await h.open(8000, reference: "b")
        _ = try await h.post("/va/\(paidB)/pay", [:])
        _ = try await h.authorize("4411111111111118", amount: 600, reference: "c")
        _ = try await h.post("/references/c/reverse", [:])

        let expected = ["a": 10000 + 2500 + 40000 - 1500, "b": 8000, "c": 0, "nothing": 0]
        for (reference, held) in expected {
            let answer = try await h.get("/references/\(reference)")
            #expect(answer.0 == 200 && answer.1["reference"] as? String == reference && answer.1["held"] as? Int == held)
            #expect(try h.bank.holding(reference: reference) == Rupiah(Int64(held)))
        }
        let total = expected.values.reduce(0, +)
        #expect(try h.bank.balance == Rupiah(Int64(total)))
        #expect(try await h.get("/balance").1["received"] as? Int == total)
        await h.stop()
    }

    @Test("a hold at .authorized stops an authorisation after the money is held and before it is answered")
    func checkpointAfterApproval() async throws {
        let h = try await Harness()
        let hold = h.bank.checkpoints.hold(.authorized)
        let answered = Flag()
        let charge = Task {
            let result = try await h.authorize("4411111111111118", amount: 10000, reference: "raced").1["result"] as? String
            answered.set()
            return result
        }
        await hold.reached()
        #expect(try h.bank.balance == Rupiah(10000) && h.bank.holding(reference: "raced") == Rupiah(10000), "the decision is committed")
        #expect(!answered.isSet, "the gateway has not heard yet")
        hold.release()
        #expect(try await charge.value == "approved")
        #expect(answered.isSet)
        await h.stop()
    }
}
