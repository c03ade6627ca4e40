import Foundation
import NetLabTestSupport
import Testing

@testable import PaymentFlow

@Suite("Notification signature", .timeLimit(.minutes(3)))
struct SignatureTests {
    @Test("matches the research vector: two-decimal gross_amount, and the classic mismatch without")
    func vector() {
        let good = NotificationSignature.compute(orderID: "order-101", statusCode: "200", grossAmount: "10000.00", serverKey: "SB-Mid-server-EXAMPLEKEY")
        #expect(good.hasPrefix("c56f2b78fe89883f") && good.hasSuffix("be135f7a"), "\(good)")
        let mismatch = NotificationSignature.compute(orderID: "order-101", statusCode: "200", grossAmount: "10000", serverKey: "SB-Mid-server-EXAMPLEKEY")
        #expect(mismatch.hasPrefix("077a5b08bb9702d0") && mismatch.hasSuffix("5e012fddd1"), "\(mismatch)")
        #expect(good.count == 128)
    }

    @Test("agrees with Python's hashlib (what a merchant written in Python computes)", .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/env")))
    func pythonAgrees() async throws {
        let (_, output) = try await TestProcess.run([
            "python3", "-c", "import hashlib,sys; print(hashlib.sha512(''.join(sys.argv[1:]).encode()).hexdigest())",
            "order-\u{e9}-7", "201", "250000.00", "SB-Mid-server-abc",
        ])
        let python = output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(NotificationSignature.compute(orderID: "order-\u{e9}-7", statusCode: "201", grossAmount: "250000.00", serverKey: "SB-Mid-server-abc") == python)
    }

    @Test("verification: exact match only, case of hex ignored; any changed field fails")
    func verify() {
        let key = "SB-Mid-server-key"
        let signature = NotificationSignature.compute(orderID: "o-1", statusCode: "200", grossAmount: "5000.00", serverKey: key)
        #expect(NotificationSignature.isValid(signature, orderID: "o-1", statusCode: "200", grossAmount: "5000.00", serverKey: key))
        #expect(NotificationSignature.isValid(signature.uppercased(), orderID: "o-1", statusCode: "200", grossAmount: "5000.00", serverKey: key))
        #expect(!NotificationSignature.isValid(signature, orderID: "o-2", statusCode: "200", grossAmount: "5000.00", serverKey: key))
        #expect(!NotificationSignature.isValid(signature, orderID: "o-1", statusCode: "202", grossAmount: "5000.00", serverKey: key))
        #expect(!NotificationSignature.isValid(signature, orderID: "o-1", statusCode: "200", grossAmount: "5000", serverKey: key))
        #expect(!NotificationSignature.isValid(signature, orderID: "o-1", statusCode: "200", grossAmount: "5000.00", serverKey: key + "x"))
        #expect(!NotificationSignature.isValid(String(signature.dropLast()), orderID: "o-1", statusCode: "200", grossAmount: "5000.00", serverKey: key))
    }
}

@Suite("Rupiah", .timeLimit(.minutes(3)))
struct MoneyTests {
    @Test("exact parsing of gateway amounts", arguments: [("10000", 10000), ("10000.00", 10000), ("10000.0", 10000), ("0", 0)])
    func parses(text: String, amount: Int64) {
        #expect(Rupiah(parsing: text)?.amount == amount)
    }

    @Test("no signs, fractions of a rupiah, separators, leading zeros or overflow", arguments: [
        "-5", "+5", "10.50", "1,000", "1e3", "", ".00", "99999999999999999999", "10000.", "10 000", "0010000", "00",
    ])
    func refuses(text: String) {
        #expect(Rupiah(parsing: text) == nil)
    }

    @Test("gateway text has two decimals (what signatures use)")
    func text() {
        #expect(Rupiah(44000).gatewayText == "44000.00")
    }
}

@Suite("Transaction state machine", .timeLimit(.minutes(3)))
struct TransactionStateTests {
    static func card(_ status: TransactionStatus, _ fraud: FraudStatus? = .accept) -> TransactionState {
        TransactionState(status: status, fraud: fraud, grossAmount: Rupiah(10000), isCard: true)
    }

    static func va(_ status: TransactionStatus) -> TransactionState {
        TransactionState(status: status, fraud: nil, grossAmount: Rupiah(10000), isCard: false)
    }

    @Test("the allowed moves of the graph", arguments: [
        (va(.pending), TransactionState.Event.paid, TransactionStatus.settlement),
        (card(.pending, nil), .authorized(fraud: .accept), .capture),
        (card(.pending, nil), .authorized(fraud: .challenge), .capture),
        (card(.pending, nil), .declined(fraud: .accept), .deny),
        (card(.pending, nil), .declined(fraud: .deny), .deny),
        (card(.pending, nil), .abandon, .failure),
        (va(.pending), .abandon, .failure),
        (va(.pending), .expire, .expire),
        (va(.pending), .cancel, .cancel),
        (card(.capture), .settle, .settlement),
        (card(.capture), .cancel, .cancel),
        (card(.capture, .challenge), .deny, .cancel),
        (card(.settlement), .refund(Rupiah(10000)), .refund),
        (card(.settlement), .refund(Rupiah(4000)), .partialRefund),
        (card(.authorize), .cancel, .cancel),
    ])
    func allowed(start: TransactionState, event: TransactionState.Event, end: TransactionStatus) {
        var state = start
        #expect(state.apply(event) == .changed(from: start.status, to: end, notify: true))
        #expect(state.status == end)
    }

    @Test("moves outside the graph are refused with 412 and change nothing", arguments: [
        (card(.settlement), TransactionState.Event.cancel),
        (card(.capture), .approve),  // not challenged
        (card(.capture), .deny),
        (card(.capture), .refund(Rupiah(1))),  // not settled yet
        (card(.capture, .challenge), .settle),  // a challenge must be resolved first
        (va(.settlement), .expire),
        (va(.expire), .paid),
        (va(.cancel), .cancel),
        (card(.deny, .deny), .approve),
        (card(.refund), .refund(Rupiah(1))),
        // Every outcome of a charge is pending-guarded: a cancelled or expired charge cannot
        // be captured, paid, declined or abandoned by a late answer.
        (card(.cancel), .authorized(fraud: .accept)),
        (card(.cancel), .declined(fraud: .accept)),
        (card(.expire), .authorized(fraud: .accept)),
        (va(.cancel), .paid),
        (va(.expire), .awaitPayment),
        (card(.cancel), .awaitAuthentication),
        (card(.capture), .abandon),
        (card(.cancel), .abandon),
        (card(.pending, nil), .paid),  // a card is authorized, never "paid" by a bank notice
        (va(.pending), .authorized(fraud: .accept)),  // and an account is never authorized
        (card(.pending, nil), .authorized(fraud: .deny)),  // a fraud deny is a decline
    ])
    func refused(start: TransactionState, event: TransactionState.Event) {
        var state = start
        guard case .refused(.illegalMove(let from)) = state.apply(event) else {
            Issue.record("\(event) on \(start.status) was allowed")
            return
        }
        #expect(from == start.status)
        #expect(TransactionState.Refusal.illegalMove(from: from).statusCode == "412")
        #expect(state == start)
    }

    @Test("announcing a waiting charge keeps it pending and changes nothing else", arguments: [
        (card(.pending, nil), TransactionState.Event.awaitAuthentication),
        (va(.pending), .awaitPayment),
    ])
    func announce(start: TransactionState, event: TransactionState.Event) {
        var state = start
        #expect(state.apply(event) == .changed(from: .pending, to: .pending, notify: false))
        #expect(state == start)
    }

    @Test("approving a challenge keeps capture, accepts, and notifies")
    func approve() {
        var state = Self.card(.capture, .challenge)
        #expect(state.statusCode == "201")
        #expect(state.apply(.approve) == .changed(from: .capture, to: .capture, notify: true))
        #expect(state.fraud == .accept)
        #expect(state.statusCode == "200")
    }

    @Test("partial refunds add up; more than the rest is 414")
    func refunds() {
        var state = Self.card(.settlement)
        #expect(state.apply(.refund(Rupiah(3000))) == .changed(from: .settlement, to: .partialRefund, notify: true))
        guard case .refused(let refusal) = state.apply(.refund(Rupiah(7001))) else {
            Issue.record("over-refund allowed")
            return
        }
        #expect(refusal == .refundOverBalance(requested: Rupiah(7001), remaining: Rupiah(7000)))
        #expect(refusal.statusCode == "414")
        #expect(state.apply(.refund(Rupiah(7000))) == .changed(from: .partialRefund, to: .refund, notify: true))
        #expect(state.status.isFinal)
    }

    @Test("status codes: 200 paid, 201 waiting, 202 failed")
    func statusCodes() {
        #expect(Self.card(.capture).statusCode == "200")
        #expect(Self.va(.settlement).statusCode == "200")
        #expect(Self.va(.pending).statusCode == "201")
        #expect(Self.va(.expire).statusCode == "202")
        #expect(Self.card(.deny, .deny).statusCode == "202")
    }
}

@Suite("Sandbox cards", .timeLimit(.minutes(3)))
struct SandboxCardTests {
    @Test("every sandbox card passes the Luhn check; a typo does not")
    func luhn() {
        for card in SandboxCards.all { #expect(SandboxCards.passesLuhn(card.number), "\(card.number)") }
        #expect(!SandboxCards.passesLuhn("4811111111111115"))
        #expect(!SandboxCards.passesLuhn("4811-1111"))
    }

    @Test("lookup ignores spaces; masking shows first eight and last four")
    func lookup() {
        #expect(SandboxCards.card("4811 1111 1111 1114")?.outcome == .accept)
        #expect(SandboxCards.card("4511111111111117")?.outcome == .fraudChallenge)
        #expect(SandboxCards.card("4000000000000002") == nil)
        #expect(SandboxCards.masked("4811111111111114") == "48111111-1114")
        #expect(SandboxCards.masked("370192169722458") == "370192-2458", "a 15-digit card shows six and four (PCI DSS)")
        #expect(!SandboxCards.passesLuhn("123456789015"), "12 digits are no payment card (ISO/IEC 7812: 13 to 19)")
    }
}

@Suite("Fraud rules", .timeLimit(.minutes(3)))
struct FraudRulesTests {
    static func check(_ number: String, amount: Int64) -> FraudCheck {
        FraudCheck(merchantID: "M", orderID: "o", paymentType: .creditCard, grossAmount: Rupiah(amount),
                   card: StoredCard(number: number, cvv: "123", expiryMonth: "12", expiryYear: "2099"))
    }

    @Test("the sandbox's rules by default: only the test cards decide; big amounts and repeated cards pass")
    func sandbox() {
        let fraud = FraudService()
        #expect(fraud.assess(Self.check("4511111111111117", amount: 10000)).fraud_status == .challenge)
        #expect(fraud.assess(Self.check("4611111111111116", amount: 10000)).fraud_status == .deny)
        #expect(fraud.assess(Self.check("4411111111111118", amount: 900_000_000)).fraud_status == .accept)
        for _ in 0..<10 { #expect(fraud.assess(Self.check("4411111111111118", amount: 10000)).fraud_status == .accept) }
    }

    @Test("the lab's rules: a big amount is challenged; a sixth charge of one card within the window is denied, with the rule named")
    func lab() {
        let fraud = FraudService(rules: .lab)
        let big = fraud.assess(Self.check("5410111111111116", amount: 50_000_000))
        #expect(big.fraud_status == .challenge && big.reasons.first?.contains("at or above") == true)
        for _ in 0..<5 { #expect(fraud.assess(Self.check("4411111111111118", amount: 10000)).fraud_status == .accept) }
        let sixth = fraud.assess(Self.check("4411111111111118", amount: 10000))
        #expect(sixth.fraud_status == .deny && sixth.reasons.first?.contains("limit 5") == true, "\(sixth.reasons)")
    }
}
