import Foundation
import HTTPParser
import NetLab
import Synchronization

/// The bank simulator: issuer and acquirer in one, as an HTTP(S) service on NetLab's server.
///
/// It authorises card payments by Midtrans' sandbox card numbers (accept, bank deny; 3-D Secure
/// cards wait for the OTP `112233`), opens virtual accounts that a customer pays at the bank's
/// "ATM" endpoint, keeps balances, and can be told to fail (latency, 5xx) for the failure
/// scenarios. Fraud outcomes of the sandbox cards are the gateway's fraud service's business:
/// the bank approves those cards.
///
/// Routes (JSON in and out):
///
/// | route | what |
/// |---|---|
/// | `POST /cards/authorize` | `{card_number, cvv, expiry_month, expiry_year, amount, reference}` → `{result, approval_code?, authentication_id?, message}` |
/// | `POST /3ds/{authentication_id}` | `{otp}` → `{result, approval_code?, message}` |
/// | `POST /va` | `{bank, amount, reference}` → `{va_number, bank, amount}` |
/// | `GET /va/{va_number}` | the account's amount and whether it is paid |
/// | `POST /va/{va_number}/pay` | the customer pays at the ATM (or in the e-wallet app) → the account |
/// | `POST /va/{va_number}/close` | the gateway closes an account it cancelled or expired |
/// | `GET /balance` | money received so far |
/// | `POST /references/{reference}/reverse` | undo whatever this payment reference did: an approval is reversed (the money released), a 3-D Secure wait dropped, an account closed → `{reversed}` |
/// | `POST /faults` | `{latency_ms, failure_status, answer_latency_ms}` for failure drills |
public final class Bank: Sendable {
    /// What happened to a payment, as the gateway hears it.
    public struct Payment: Hashable, Sendable {
        public let reference: String
        public let amount: Rupiah
        public let channel: String
    }

    struct CardAuthorization: Codable {
        var card_number: String
        var cvv: String
        var expiry_month: String
        var expiry_year: String
        var amount: String
        var reference: String
    }

    struct AuthorizationAnswer: Codable, Equatable {
        var result: String
        var approval_code: String?
        var authentication_id: String?
        var message: String
    }

    struct VirtualAccount: Codable, Equatable {
        var va_number: String
        var bank: String
        var amount: String
        var reference: String
        var paid: Bool
        var closed: Bool? = nil
    }

    struct Faults: Codable {
        /// Wait before deciding.
        var latency_ms: Int
        /// Answer this status instead of deciding.
        var failure_status: Int?
        /// Decide (the money moves), then wait this long before answering: the caller's
        /// outcome is "in doubt" meanwhile — the case a gateway must recover from after a crash.
        var answer_latency_ms: Int?
    }

    private struct State {
        var pendingAuthentications: [String: (reference: String, amount: Rupiah)] = [:]
        var accounts: [String: VirtualAccount] = [:]
        /// Approved card payments by the gateway's reference (what a reversal gives back).
        var approvals: [String: Rupiah] = [:]
        /// References reversed: anything arriving for them later (an authorisation that was
        /// still on its way when the gateway gave up) is refused, never approved.
        var reversed: Set<String> = []
        var received = Rupiah(0)
        var nextNumber: UInt64 = 1
        var faults = Faults(latency_ms: 0, failure_status: nil)
    }

    private let state = Mutex(State())
    /// Called (on the bank's connection task) when a virtual account is paid: the bank's
    /// notice to the gateway.
    private let onPayment: (@Sendable (Payment) async -> Void)?
    /// The bank's prefix for account numbers (BCA-style 11+ digits).
    public let bankCode: String

    /// Hears every change of the bank's books (for the demo).
    private let observer: PaymentObserver?
    /// The key the gateway presents (`Authorization: Bearer …`) on the routes only it may use
    /// (reversal); nil: those routes are open (in-process tests).
    private let gatewayKey: String?

    public init(bankCode: String = "bca", onPayment: (@Sendable (Payment) async -> Void)? = nil, observer: PaymentObserver? = nil,
                gatewayKey: String? = nil) {
        self.bankCode = bankCode
        self.onPayment = onPayment
        self.observer = observer
        self.gatewayKey = gatewayKey
    }

    /// A payment notice sent to the gateway over HTTP(S): `POST {gatewayURL}/bank/v1/payments`
    /// `{reference, amount, channel}` with `Authorization: Bearer {key}`. Retried with backoff
    /// (0.2 s, 0.4 s, … eight tries) while the gateway is unreachable or answers 5xx.
    public static func notice(gatewayURL: String, key: String, client: HTTPClient) -> @Sendable (Payment) async -> Void {
        { payment in
            for attempt in 0..<8 {
                do {
                    var request = HTTPClientRequest(method: .post, url: try HTTPURL(gatewayURL + "/bank/v1/payments"))
                    request.body = Array(try JSONSerialization.data(withJSONObject: [
                        "reference": payment.reference, "amount": payment.amount.gatewayText, "channel": payment.channel,
                    ]))
                    try request.fields.append(name: "Content-Type", value: "application/json")
                    try request.fields.append(name: "Authorization", value: "Bearer \(key)")
                    let response = try await client.execute(request)
                    if response.status < 500 { return }
                } catch {}
                try? await Task.sleep(for: .milliseconds(200 << attempt))
            }
        }
    }

    /// Money received by the bank so far (card approvals and paid accounts).
    public var balance: Rupiah { state.withLock { $0.received } }

    /// The bank's routes.
    public var router: Router {
        var router = Router()
        router.post("/cards/authorize") { [self] request in
            try await injectFaults()
            let body: CardAuthorization = try request.decodeJSON()
            let answer = try authorize(body)
            observer?(.bank(reference: body.reference, change: Self.describe(answer, amount: body.amount)))
            try await delayAnswer()
            return try .json(answer)
        }
        router.post("/3ds/{id}") { [self] request in
            try await injectFaults()
            struct OTP: Codable { var otp: String }
            let body: OTP = try request.decodeJSON()
            let answer = try authenticate(id: request.pathParameters["id"] ?? "", otp: body.otp)
            observer?(.bank(reference: request.pathParameters["id"] ?? "",
                            change: answer.result == "approved" ? "card approved after the 3-D Secure OTP, approval code \(answer.approval_code ?? "-"): the money is held"
                                : "3-D Secure OTP refused: \(answer.message)"))
            try await delayAnswer()
            return try .json(answer)
        }
        router.post("/va") { [self] request in
            try await injectFaults()
            struct Open: Codable { var bank: String; var amount: String; var reference: String }
            let body: Open = try request.decodeJSON()
            guard let amount = Rupiah(parsing: body.amount), amount.amount > 0, amount.amount < 1_000_000_000_000 else {
                throw HTTPError(status: 400, message: "amount must be a positive whole number of rupiah (below 10^12)")
            }
            let account = openAccount(bank: body.bank, amount: amount, reference: body.reference)
            observer?(.bank(reference: body.reference, change: "virtual account \(account.va_number) opened for Rp \(amount.amount), unpaid"))
            return try .json(account, status: 201)
        }
        router.get("/va/{number}") { [self] request in
            guard let account = state.withLock({ $0.accounts[request.pathParameters["number"] ?? ""] }) else {
                throw HTTPError(status: 404, message: "no such virtual account")
            }
            return try .json(account)
        }
        router.post("/va/{number}/pay") { [self] request in
            try await injectFaults()
            let account = try await pay(number: request.pathParameters["number"] ?? "")
            return try .json(account)
        }
        router.post("/va/{number}/close") { [self] request in
            let number = request.pathParameters["number"] ?? ""
            let account = try state.withLock { state throws(HTTPError) -> VirtualAccount in
                guard var account = state.accounts[number] else { throw HTTPError(status: 404, message: "no such virtual account") }
                account.closed = true
                state.accounts[number] = account
                return account
            }
            observer?(.bank(reference: account.reference, change: "virtual account \(number) closed (cancelled or expired at the gateway)"))
            return try .json(account)
        }
        router.post("/references/{reference}/reverse") { [self] request in
            struct Reversal: Codable { var reference: String; var reversed: Bool }
            if let gatewayKey {
                let presented = request.fields["Authorization"] ?? ""
                guard presented.hasPrefix("Bearer "), Gateway.constantTimeEqual(String(presented.dropFirst(7)), gatewayKey) else {
                    throw HTTPError(status: 401, message: "only the gateway may reverse a payment")
                }
            }
            let reference = request.pathParameters["reference"] ?? ""
            let reversed = reverse(reference: reference)
            if reversed { observer?(.bank(reference: reference, change: "reversed: the in-doubt payment's money is released")) }
            return try .json(Reversal(reference: reference, reversed: reversed))
        }
        router.get("/balance") { [self] _ in
            struct Balance: Codable { var received: String }
            return try .json(Balance(received: balance.gatewayText))
        }
        router.post("/faults") { [self] request in
            let faults: Faults = try request.decodeJSON()
            state.withLock { $0.faults = faults }
            return try .json(faults)
        }
        return router
    }

    // MARK: Decisions (also callable in-process)

    func authorize(_ request: CardAuthorization) throws -> AuthorizationAnswer {
        guard let amount = Rupiah(parsing: request.amount), amount.amount > 0, amount.amount < 1_000_000_000_000 else {
            throw HTTPError(status: 400, message: "amount must be a positive whole number of rupiah (below 10^12)")
        }
        guard SandboxCards.passesLuhn(request.card_number) else {
            return AuthorizationAnswer(result: "denied", message: "invalid card number")
        }
        guard request.cvv == SandboxCards.cvv else {
            return AuthorizationAnswer(result: "denied", message: "CVV does not match")
        }
        guard Self.notExpired(month: request.expiry_month, year: request.expiry_year) else {
            return AuthorizationAnswer(result: "denied", message: "card expired")
        }
        guard let card = SandboxCards.card(request.card_number) else {
            return AuthorizationAnswer(result: "denied", message: "unknown card (use a sandbox card)")
        }
        if card.outcome == .bankDeny { return AuthorizationAnswer(result: "denied", message: "Denied by bank") }
        if card.threeDSecure {
            let id = state.withLock { state -> String in
                let id = "3ds-\(state.nextNumber)-\(UUID().uuidString.prefix(8))"
                state.nextNumber += 1
                state.pendingAuthentications[id] = (request.reference, amount)
                return id
            }
            return AuthorizationAnswer(result: "authentication_required", authentication_id: id, message: "enter the OTP sent to the card holder")
        }
        return approve(amount, reference: request.reference)
    }

    func authenticate(id: String, otp: String) throws -> AuthorizationAnswer {
        guard let pending = state.withLock({ $0.pendingAuthentications.removeValue(forKey: id) }) else {
            throw HTTPError(status: 404, message: "no such 3-D Secure authentication (or already used)")
        }
        guard otp == SandboxCards.otp else { return AuthorizationAnswer(result: "denied", message: "Card is not authenticated.") }
        return approve(pending.amount, reference: pending.reference)
    }

    private func approve(_ amount: Rupiah, reference: String) -> AuthorizationAnswer {
        let code = state.withLock { state -> String? in
            guard !state.reversed.contains(reference) else { return nil }
            state.received = Rupiah(state.received.amount + amount.amount)
            state.approvals[reference, default: Rupiah(0)] = Rupiah(state.approvals[reference, default: Rupiah(0)].amount + amount.amount)
            state.nextNumber += 1
            return String(format: "%06llu", state.nextNumber % 1_000_000)
        }
        guard let code else { return AuthorizationAnswer(result: "denied", message: "this payment was reversed by the gateway") }
        return AuthorizationAnswer(result: "approved", approval_code: code, message: "Approved")
    }

    func openAccount(bank: String, amount: Rupiah, reference: String) -> VirtualAccount {
        state.withLock { state in
            let number = "8127\(String(format: "%011llu", state.nextNumber))"
            state.nextNumber += 1
            // An account for a reference already reversed is born closed: it can never take money.
            let account = VirtualAccount(va_number: number, bank: bank, amount: amount.gatewayText, reference: reference, paid: false,
                                         closed: state.reversed.contains(reference) ? true : nil)
            state.accounts[number] = account
            return account
        }
    }

    func pay(number: String) async throws -> VirtualAccount {
        let account = try state.withLock { state throws(HTTPError) -> VirtualAccount in
            guard var account = state.accounts[number] else { throw HTTPError(status: 404, message: "no such virtual account") }
            guard !account.paid else { throw HTTPError(status: 409, message: "this virtual account is already paid") }
            guard account.closed != true else { throw HTTPError(status: 410, message: "this virtual account is closed (the payment was cancelled or expired)") }
            account.paid = true
            state.accounts[number] = account
            state.received = Rupiah(state.received.amount + (Rupiah(parsing: account.amount)?.amount ?? 0))
            return account
        }
        observer?(.bank(reference: account.reference, change: "virtual account \(number) paid at the ATM: Rp \(account.amount) received"))
        if let onPayment, let amount = Rupiah(parsing: account.amount) {
            await onPayment(Payment(reference: account.reference, amount: amount, channel: account.bank))
        }
        return account
    }

    static func describe(_ answer: AuthorizationAnswer, amount: String?) -> String {
        switch answer.result {
        case "approved": "card approved\(amount.map { " for Rp \($0)" } ?? ""), approval code \(answer.approval_code ?? "-"): the money is held"
        case "authentication_required": "3-D Secure required: waiting for the card holder's OTP"
        default: "card declined: \(answer.message)"
        }
    }

    /// Undoes what a payment reference did (a reversal, as a gateway sends for an authorisation
    /// whose answer it never recorded): approved money goes back, a 3-D Secure wait is dropped,
    /// unpaid accounts close. Idempotent; true if anything was undone.
    func reverse(reference: String) -> Bool {
        state.withLock { state in
            state.reversed.insert(reference)
            var undone = false
            if let amount = state.approvals.removeValue(forKey: reference) {
                state.received = Rupiah(state.received.amount - amount.amount)
                undone = true
            }
            for (id, pending) in state.pendingAuthentications where pending.reference == reference {
                state.pendingAuthentications[id] = nil
                undone = true
            }
            for (number, account) in state.accounts where account.reference == reference && !account.paid && account.closed != true {
                state.accounts[number]?.closed = true
                undone = true
            }
            return undone
        }
    }

    private func delayAnswer() async throws {
        if let wait = state.withLock({ $0.faults.answer_latency_ms }), wait > 0 { try await Task.sleep(for: .milliseconds(wait)) }
    }

    private func injectFaults() async throws {
        let faults = state.withLock { $0.faults }
        if faults.latency_ms > 0 { try await Task.sleep(for: .milliseconds(faults.latency_ms)) }
        if let status = faults.failure_status { throw HTTPError(status: status, message: "injected fault") }
    }

    static func notExpired(month: String, year: String, now: Date = Date()) -> Bool {
        guard let m = Int(month), (1...12).contains(m), let y = Int(year) else { return false }
        let parts = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: now)
        let fullYear = y < 100 ? 2000 + y : y
        return (fullYear, m) >= (parts.year ?? 0, parts.month ?? 0)
    }
}
