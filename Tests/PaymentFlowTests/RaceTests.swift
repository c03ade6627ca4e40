import Foundation
import HTTPParser
import NetLab
import Testing

@testable import PaymentFlow

extension WholeSystems {
/// Money is never lost, doubled or misdirected: every race named in the gateway's design, each
/// forced deterministically. The bank stops a request at a checkpoint *after* its decision is
/// committed (the money moved) and *before* the gateway hears the answer; the test does the
/// racing thing in that window, then lets the answer through. No sleeps decide a verdict.
/// (One test at a time: each starts the whole system, and a two-core machine running many at
/// once can miss the servers' TLS handshake deadline.)
@Suite("Races over money, forced", .serialized, .timeLimit(.minutes(3)))
struct RaceTests {
    /// The payment system on loopback, with a merchant's-eye view of the gateway.
    struct Harness {
        let system: PaymentSystem
        var bank: Bank { system.bank! }
        var merchantID: String { system.options.merchantID }

        static func start(_ tweak: (inout PaymentSystemOptions) -> Void = { _ in }) async throws -> Harness {
            Harness(system: try await EndToEndTests.start(tweak))
        }

        func stop() async { await EndToEndTests.stop(system) }

        /// A call to the gateway as the merchant's server; `idempotencyKey` adds the header.
        func call(_ method: HTTPMethod, _ path: String, _ json: [String: Any]? = nil, idempotencyKey: String? = nil,
                  key: String? = nil) async throws -> (status: Int, body: [String: Any], replayed: Bool) {
            var request = HTTPClientRequest(method: method, url: try HTTPURL(system.urls[.gateway]! + path))
            if let json { request.body = Array(try JSONSerialization.data(withJSONObject: json)) }
            request.basicAuthorization(user: key ?? system.options.serverKey)
            try request.fields.append(name: "Content-Type", value: "application/json")
            if let idempotencyKey { try request.fields.append(name: "Idempotency-Key", value: idempotencyKey) }
            let response = try await system.client.execute(request)
            let body = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
            return (response.status, body, response.fields["Idempotent-Replayed"] == "true")
        }

        func cardCharge(_ number: String, order: String, amount: Int = 10000, idempotencyKey: String? = nil) async throws -> (status: Int, body: [String: Any], replayed: Bool) {
            let token = try await system.customer().tokenize(Customer.Card(number: number))
            return try await call(.post, "/v2/charge", [
                "payment_type": "credit_card", "transaction_details": ["order_id": order, "gross_amount": amount],
                "credit_card": ["token_id": token, "authentication": true],
            ], idempotencyKey: idempotencyKey)
        }

        func vaCharge(_ order: String, amount: Int = 10000) async throws -> (status: Int, body: [String: Any], replayed: Bool) {
            try await call(.post, "/v2/charge", [
                "payment_type": "bank_transfer", "transaction_details": ["order_id": order, "gross_amount": amount], "bank_transfer": ["bank": "bca"],
            ])
        }

        func transaction(_ order: String) throws -> GatewayTransaction? { try system.store!.find(merchantID: merchantID, id: order) }

        /// Statuses the merchant was (or will be) notified of, in outbox order.
        func notified(_ order: String) throws -> [String] {
            try system.store!.notifications(merchantID: merchantID, orderID: order).map(\.transactionStatus)
        }

        /// What the bank holds for the transaction of `order`.
        func held(_ order: String) throws -> Rupiah {
            try bank.holding(reference: try #require(try transaction(order)).transactionID)
        }

        func payAtBank(_ number: String) async throws -> Int {
            try await system.client.post(system.urls[.bank]! + "/va/\(number)/pay", body: []).status
        }
    }

    @Test("cancel while the bank decides on a card: the cancel wins, the charge answers 412, the approved money is reversed")
    func cancelDuringCardAuthorization() async throws {
        let h = try await Harness.start()
        let hold = h.bank.checkpoints.hold(.authorized)
        async let charge = h.cardCharge("4411111111111118", order: "race-card")
        await hold.reached()
        #expect(try h.held("race-card") == Rupiah(10000), "the bank approved: the money is held")
        let cancel = try await h.call(.post, "/v2/race-card/cancel")
        #expect(cancel.status == 200 && cancel.body["transaction_status"] as? String == "cancel")
        hold.release()
        let answer = try await charge
        #expect(answer.status == 412, "the charge lost the race: \(answer.body)")
        #expect(try h.held("race-card") == Rupiah(0), "the authorisation was reversed")
        #expect(try h.transaction("race-card")?.state.status == .cancel)
        #expect(try h.transaction("race-card")?.reversalOwed == false, "the bank confirmed the reversal")
        #expect(try !h.notified("race-card").contains("capture"), "the merchant is never told capture")
        await h.stop()
    }

    @Test("cancel while the bank opens a virtual account: the account is closed and can never take money")
    func cancelDuringAccountOpening() async throws {
        let h = try await Harness.start()
        let hold = h.bank.checkpoints.hold(.accountOpened)
        async let charge = h.vaCharge("race-va")
        await hold.reached()
        #expect(try await h.call(.post, "/v2/race-va/cancel").status == 200)
        hold.release()
        #expect(try await charge.status == 412)
        let reference = try #require(try h.transaction("race-va")).transactionID
        let number = try #require(try h.bank.accounts(reference: reference).first)
        #expect(try await h.payAtBank(number.va_number) == 410, "a closed account refuses the customer's money")
        #expect(try h.held("race-va") == Rupiah(0))
        await h.stop()
    }

    @Test("cancel while the OTP is verified: the cancel wins, the OTP answers 412, the bank's approval is reversed")
    func cancelDuringOTP() async throws {
        let h = try await Harness.start()
        let charge = try await h.cardCharge("4811111111111114", order: "race-3ds")
        let redirect = try #require(charge.body["redirect_url"] as? String)
        let hold = h.bank.checkpoints.hold(.authenticated)
        let customer = h.system.customer()
        let otp = Task { try await customer.authenticate(redirect: redirect, otp: SandboxCards.otp) }
        await hold.reached()
        #expect(try h.held("race-3ds") == Rupiah(10000))
        #expect(try await h.call(.post, "/v2/race-3ds/cancel").status == 200)
        hold.release()
        await #expect(throws: Customer.CheckoutError.self) { try await otp.value }
        #expect(try h.transaction("race-3ds")?.state.status == .cancel)
        #expect(try h.held("race-3ds") == Rupiah(0))
        #expect(try h.notified("race-3ds") == ["pending", "cancel"])
        await h.stop()
    }

    @Test("capture, then cancel before settlement: the capture is voided at the bank")
    func captureThenCancel() async throws {
        let h = try await Harness.start()
        #expect(try await h.cardCharge("4411111111111118", order: "void-1").body["transaction_status"] as? String == "capture")
        #expect(try h.held("void-1") == Rupiah(10000))
        #expect(try await h.call(.post, "/v2/void-1/cancel").status == 200)
        #expect(try h.held("void-1") == Rupiah(0))
        #expect(try h.notified("void-1") == ["capture", "cancel"])
        await h.stop()
    }

    @Test("expiry while the customer pays: the late payment is given back, the order stays expired, no settlement is sent")
    func expiryDuringPayment() async throws {
        let h = try await Harness.start()
        let charge = try await h.vaCharge("late-1")
        let number = try #require((charge.body["va_numbers"] as? [[String: Any]])?.first?["va_number"] as? String, "\(charge.status) \(charge.body)")
        let hold = h.bank.checkpoints.hold(.paid)
        let bankURL = h.system.urls[.bank]!, client = h.system.client
        let payment = Task { try await client.post(bankURL + "/va/\(number)/pay", body: []).status }
        await hold.reached()
        #expect(try h.held("late-1") == Rupiah(10000), "the bank took the money; the gateway has not heard")
        #expect(try await h.call(.post, "/v2/late-1/expire").body["transaction_status"] as? String == "expire")
        hold.release()
        #expect(try await payment.value == 200)
        try await EndToEndTests.eventually("the late payment is returned to the customer") { try h.held("late-1") == Rupiah(0) }
        #expect(try h.transaction("late-1")?.state.status == .expire)
        #expect(try h.notified("late-1") == ["pending", "expire"])
        await h.stop()
    }

    @Test("two refunds with one refund_key refund once; eight at once, once; the key with another amount is refused")
    func refundKey() async throws {
        let h = try await Harness.start()
        let charge = try await h.vaCharge("refund-1", amount: 20000)
        let number = try #require((charge.body["va_numbers"] as? [[String: Any]])?.first?["va_number"] as? String, "\(charge.status) \(charge.body)")
        #expect(try await h.payAtBank(number) == 200)
        try await EndToEndTests.eventually("settled") { try h.transaction("refund-1")?.state.status == .settlement }
        let first = try await h.call(.post, "/v2/refund-1/refund", ["refund_key": "rk-1", "amount": 3000])
        let again = try await h.call(.post, "/v2/refund-1/refund", ["refund_key": "rk-1", "amount": 3000])
        #expect(first.status == 200 && again.status == 200)
        #expect(first.body["refund_chargeback_id"] as? Int == again.body["refund_chargeback_id"] as? Int)
        let concurrent = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<8 { group.addTask { try await h.call(.post, "/v2/refund-1/refund", ["refund_key": "rk-2", "amount": 4000]).status } }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(concurrent == Array(repeating: 200, count: 8), "a repeat answers the first refund")
        #expect(try await h.call(.post, "/v2/refund-1/refund", ["refund_key": "rk-1", "amount": 5000]).status == 412)
        let stored = try #require(try h.transaction("refund-1"))
        #expect(stored.state.refunded == Rupiah(7000) && stored.refunds.map(\.refundKey) == ["rk-1", "rk-2"])
        #expect(try h.held("refund-1") == Rupiah(13000), "the bank gave back exactly 3,000 + 4,000")
        await h.stop()
    }

    @Test("one Idempotency-Key twice at once: the second waits (202), then replays; the key on another request is refused")
    func idempotencyKey() async throws {
        let h = try await Harness.start()
        let hold = h.bank.checkpoints.hold(.authorized)
        async let first = h.cardCharge("4411111111111118", order: "idem-1", idempotencyKey: "key-1")
        await hold.reached()
        // The same request again (a new token makes a new body: send the stored one's twin).
        let running = try await h.call(.post, "/v2/idem-1/cancel", idempotencyKey: "key-1")
        #expect(running.status == 409, "the key belongs to the charge, not to a cancel")
        hold.release()
        let answered = try await first
        #expect(answered.status == 200 && answered.body["transaction_status"] as? String == "capture")
        let before = try h.bank.balance
        let other = try await h.vaCharge("idem-2")
        #expect(other.status == 200)
        #expect(try await h.call(.post, "/v2/charge", ["payment_type": "qris", "transaction_details": ["order_id": "idem-3", "gross_amount": 5000]],
                                 idempotencyKey: "key-1").status == 409, "another order with the same key is refused, never replayed")
        #expect(try h.transaction("idem-3") == nil)
        #expect(try h.bank.balance == before)
        await h.stop()
    }

    @Test("one Idempotency-Key on the same request twice at once: one runs, the other is told 202; then the answer replays")
    func idempotencySameRequest() async throws {
        let h = try await Harness.start()
        let hold = h.bank.checkpoints.hold(.accountOpened)
        func body() -> [String: Any] {
            ["payment_type": "bank_transfer", "transaction_details": ["order_id": "idem-va", "gross_amount": 7000], "bank_transfer": ["bank": "bca"]]
        }
        async let first = h.call(.post, "/v2/charge", body(), idempotencyKey: "key-va")
        await hold.reached()
        let second = try await h.call(.post, "/v2/charge", body(), idempotencyKey: "key-va")
        #expect(second.status == 200 && second.body["status_code"] as? String == "202", "still running: \(second.body)")
        hold.release()
        let answered = try await first
        #expect(answered.status == 200 && answered.body["status_code"] as? String == "201")
        let replay = try await h.call(.post, "/v2/charge", body(), idempotencyKey: "key-va")
        #expect(replay.replayed && replay.body["transaction_id"] as? String == answered.body["transaction_id"] as? String)
        #expect(try h.bank.accounts(reference: answered.body["transaction_id"] as? String ?? "").count == 1, "one account, not two")
        await h.stop()
    }

    @Test("approve racing deny on a challenged capture: exactly one wins; a deny releases the money")
    func approveRacingDeny() async throws {
        let h = try await Harness.start()
        for round in 0..<6 {
            let order = "challenge-\(round)"
            // Two challenge cards in turn (with the lab's velocity rule on, a sixth charge of one card is denied).
            let card = round.isMultiple(of: 2) ? "4511111111111117" : "5510111111111115"
            #expect(try await h.cardCharge(card, order: order).body["fraud_status"] as? String == "challenge")
            let (approve, deny) = try await withThrowingTaskGroup(of: (String, Int).self) { group in
                for action in round.isMultiple(of: 2) ? ["approve", "deny"] : ["deny", "approve"] {
                    group.addTask { (action, try await h.call(.post, "/v2/\(order)/\(action)").status) }
                }
                let codes = try await group.reduce(into: [String: Int]()) { $0[$1.0] = $1.1 }
                return (codes["approve"] ?? 0, codes["deny"] ?? 0)
            }
            #expect([approve, deny].sorted() == [200, 412], "round \(round): approve \(approve), deny \(deny)")
            let stored = try #require(try h.transaction(order))
            if approve == 200 {
                #expect(stored.state.status == .capture && stored.state.fraud == .accept)
                #expect(try h.held(order) == Rupiah(10000))
            } else {
                #expect(stored.state.status == .cancel && stored.state.fraud == .deny)
                #expect(try h.held(order) == Rupiah(0))
            }
        }
        await h.stop()
    }

    @Test("a gateway that dies after the bank approved an OTP: the restarted gateway reverses the in-doubt charge; the old answer cannot capture it")
    func crashAfterOTPApproval() async throws {
        let h = try await Harness.start()
        let charge = try await h.cardCharge("4811111111111114", order: "doubt-1")
        let redirect = try #require(charge.body["redirect_url"] as? String)
        let hold = h.bank.checkpoints.hold(.authenticated)
        let customer = h.system.customer()
        let otp = Task { try await customer.authenticate(redirect: redirect, otp: SandboxCards.otp) }
        await hold.reached()
        #expect(try h.held("doubt-1") == Rupiah(10000))
        // "After the crash": another gateway process on the same state, which is not running this OTP.
        let restarted = Gateway(configuration: h.system.gateway!.configuration, store: h.system.store!, accounts: h.system.gateway!.accounts,
                                bankClient: h.system.client)
        #expect(try await restarted.applyTimers() >= 1)
        #expect(try h.transaction("doubt-1")?.state.status == .failure)
        #expect(try h.held("doubt-1") == Rupiah(0), "reversed: never left pending with the money held")
        hold.release()
        await #expect(throws: Customer.CheckoutError.self) { try await otp.value }
        #expect(try h.transaction("doubt-1")?.state.status == .failure)
        #expect(try !h.notified("doubt-1").contains("capture"))
        await h.stop()
    }

    @Test("recovery racing a charge that finishes: a VA whose account opened while the timers listed it as in flight stays pending")
    func recoveryRacingACharge() async throws {
        let h = try await Harness.start { $0.pollInterval = .seconds(3600) }  // only this test's timer pass runs
        let gateway = h.system.gateway!
        let opening = h.bank.checkpoints.hold(.accountOpened)
        async let charge = h.vaCharge("recover-1")
        await opening.reached()  // the charge's step "opening account" is stored; it runs in this process
        let listed = gateway.checkpoints.hold(.recoveryListed)
        let pass = Task { try await gateway.applyTimers() }
        await listed.reached()  // the timers listed it as in flight…
        opening.release()
        #expect(try await charge.status == 200, "…and it finished, pending with its account")
        listed.release()  // …then the timers look at what runs here: it no longer does
        _ = try await pass.value
        #expect(try h.transaction("recover-1")?.state.status == .pending, "a finished charge is never abandoned")
        await h.stop()
    }

    @Test("a double-clicked OTP: the second post is refused while the first runs, and recovery leaves the first alone")
    func doubleOTP() async throws {
        let h = try await Harness.start { $0.pollInterval = .seconds(3600) }
        let charge = try await h.cardCharge("4811111111111114", order: "otp-twice")
        let redirect = try #require(charge.body["redirect_url"] as? String)
        let hold = h.bank.checkpoints.hold(.authenticated)
        let customer = h.system.customer()
        let first = Task { try await customer.authenticate(redirect: redirect, otp: SandboxCards.otp) }
        await hold.reached()
        await #expect(throws: Customer.CheckoutError.self, "the second post finds the OTP taken") {
            try await customer.authenticate(redirect: redirect, otp: SandboxCards.otp)
        }
        _ = try await h.system.gateway!.applyTimers()
        #expect(try h.transaction("otp-twice")?.state.status == .pending, "still running here: never abandoned")
        hold.release()
        try await first.value
        #expect(try h.transaction("otp-twice")?.state.status == .capture)
        #expect(try h.held("otp-twice") == Rupiah(10000))
        await h.stop()
    }

    @Test("refunds: a body that is no JSON object is 400 and refunds nothing; a retry with the key and no amount answers the first refund; a late payment notice for a refunded transaction gives nothing back")
    func refundEdges() async throws {
        let h = try await Harness.start()
        let charge = try await h.vaCharge("refund-edge", amount: 20000)
        let number = try #require((charge.body["va_numbers"] as? [[String: Any]])?.first?["va_number"] as? String, "\(charge.status) \(charge.body)")
        #expect(try await h.payAtBank(number) == 200)
        try await EndToEndTests.eventually("settled") { try h.transaction("refund-edge")?.state.status == .settlement }
        var bad = HTTPClientRequest(method: .post, url: try HTTPURL(h.system.urls[.gateway]! + "/v2/refund-edge/refund"))
        bad.basicAuthorization(user: h.system.options.serverKey)
        bad.body = Array("amount=5000".utf8)
        #expect(try await h.system.client.execute(bad).status == 400)
        #expect(try h.transaction("refund-edge")?.state.refunded == Rupiah(0))
        let first = try await h.call(.post, "/v2/refund-edge/refund", ["refund_key": "rest-1"])
        let retry = try await h.call(.post, "/v2/refund-edge/refund", ["refund_key": "rest-1"])
        #expect(first.status == 200 && retry.status == 200 && retry.body["refund_amount"] as? String == "20000.00")
        #expect(try h.transaction("refund-edge")?.state.status == .refund)
        // The bank's payment notice again (its first answer lost): the payment was recorded long ago.
        let reference = try #require(try h.transaction("refund-edge")).transactionID
        #expect(try await h.system.gateway!.bankPaid(reference: reference))
        #expect(try h.transaction("refund-edge")?.reversalOwed == false)
        #expect(try h.held("refund-edge") == Rupiah(0), "refunded once, not reversed on top")
        await h.stop()
    }

    @Test("a bank that lost its books hands out a VA number again: the gateway refuses it, and the account is reversed")
    func vaNumberNeverReused() async throws {
        let h = try await Harness.start()
        let first = try await h.vaCharge("va-once-1")
        let number = try #require((first.body["va_numbers"] as? [[String: Any]])?.first?["va_number"] as? String)
        // The bank's counter goes back to where it started (its file lost and made anew).
        let ledger = try BankLedger(path: h.system.options.stateDirectory + "/bank.sqlite")
        try ledger.database.execute("UPDATE counter SET next = 1")
        try ledger.database.execute("DELETE FROM accounts")
        let second = try await h.vaCharge("va-once-2")
        #expect(second.status == 502, "no number is handed out twice: \(second.body)")
        #expect(try h.transaction("va-once-2")?.state.status == .failure)
        #expect(try h.transaction("va-once-2")?.vaNumber == nil)
        #expect(try h.system.store!.transaction(vaNumber: number)?.orderID == "va-once-1")
        await h.stop()
    }

    @Test("order ids are checked before storage: a NUL byte, a space or 51 characters are 400 with the rule named")
    func orderIDs() async throws {
        let h = try await Harness.start()
        for id in ["a\u{0}b", "has space", String(repeating: "x", count: 51), "ünïcode"] {
            let answer = try await h.call(.post, "/v2/charge", ["payment_type": "qris", "transaction_details": ["order_id": id, "gross_amount": 5000]])
            #expect(answer.status == 400, "\(id.debugDescription)")
            #expect((answer.body["validation_messages"] as? [String])?.contains { $0.contains("order_id") } == true)
        }
        #expect(try await h.call(.post, "/v2/charge", ["payment_type": "qris", "transaction_details": ["order_id": "Ok-1_2~3.4", "gross_amount": 5000]]).status == 200)
        await h.stop()
    }
}
}  // extension WholeSystems
