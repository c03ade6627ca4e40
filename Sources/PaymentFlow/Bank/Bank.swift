import Foundation
import HTTPParser
import NetLab
import TCPSocket

/// The bank simulator: issuer and acquirer in one, as an HTTP(S) service on NetLab's server.
///
/// It authorises card payments by Midtrans' sandbox card numbers (accept, bank deny; 3-D Secure
/// cards wait for the OTP `112233`), opens virtual accounts that a customer pays at the bank's
/// "ATM" endpoint or on the simulators' pages (``BankPages``), gives money back (reversals,
/// refunds), and can be told to fail (latency, 5xx) for the failure scenarios. Fraud outcomes
/// of the sandbox cards are the gateway's fraud service's business: the bank approves those
/// cards.
///
/// Its books are a ``BankLedger`` (SQLite): every decision is committed before it is answered,
/// and a bank restarted on the same file carries on where it stopped. Only the fault drill is
/// kept in memory.
///
/// API routes (JSON in and out, the shapes of ``BankAPI``; amounts are JSON integers of rupiah):
///
/// | route | what |
/// |---|---|
/// | `POST /cards/authorize` | ``BankAPI/CardAuthorization`` → ``BankAPI/AuthorizationAnswer`` |
/// | `POST /cards/points` | ``BankAPI/PointInquiry`` → ``BankAPI/PointBalance`` (404: a card without reward points) |
/// | `POST /3ds/{authentication_id}` | ``BankAPI/OTPSubmission`` → ``BankAPI/AuthorizationAnswer`` (404: no such wait, or used) |
/// | `POST /va` | ``BankAPI/OpenAccount`` → ``BankAPI/VirtualAccount``, 201 |
/// | `GET /va/{va_number}` | the ``BankAPI/VirtualAccount`` |
/// | `POST /va/{va_number}/pay` | the customer pays at the ATM (or in the e-wallet app) → the account; 409 already paid, 410 closed |
/// | `POST /wallets/link` | ``BankAPI/WalletLink`` → ``BankAPI/WalletLinked`` (gateway only): may the wallet link (no PIN), or link it (the customer's PIN; 403 wrong) |
/// | `POST /wallets/unlink` | ``BankAPI/WalletToken`` → the same (gateway only): the link is revoked |
/// | `POST /wallets/balance` | ``BankAPI/WalletToken`` → ``BankAPI/WalletBalance`` (gateway only) |
/// | `POST /wallets/pay` | ``BankAPI/WalletPayment`` → the account (gateway only; 402 insufficient balance, 403 PIN missing or wrong, 404 unknown token) |
/// | `POST /va/{va_number}/close` | the gateway closes an account it cancelled or expired |
/// | `GET /balance` | `{"received": <rupiah>}`: money held across all references |
/// | `GET /references/{reference}` | ``BankAPI/Holding``: money held for the reference |
/// | `POST /references/{reference}/reverse` | undo whatever the reference did, its money included → ``BankAPI/Reversal`` (gateway only) |
/// | `POST /references/{reference}/refund` | ``BankAPI/Refund`` → ``BankAPI/Holding`` (gateway only; 409 more than held, or a key reused) |
/// | `POST /faults` | ``BankAPI/Faults`` for failure drills |
///
/// Pages (HTML for a tester's browser, ``BankPages``: the simulators Midtrans' sandbox gives).
/// Each POST is a form, refused with 403 when posted from another site, and pays as
/// `POST /va/{va_number}/pay` does (``payAccount(_:how:)``): the same statuses, as pages.
///
/// | route | what |
/// |---|---|
/// | `GET /` | the index of the simulators |
/// | `GET /assets/netlab.css` | the pages' style sheet |
/// | `GET /atm`, `GET /atm?number=N` | ATM / mobile banking: the number's form; the account (bank, amount, note, paid or closed) with a Pay button |
/// | `POST /atm/pay` | form `number`: pays it → the result page (404, 409, 410 as above) |
/// | `GET /wallet`, `GET /wallet?qr=…` | the e-wallet app: a pasted QRIS string's merchant and amount (or an account) with an Approve button; 400: bad CRC, no merchant account, not the bill's amount |
/// | `POST /wallet/pay` | form `number` (the QR's merchant account): pays it → the result page |
/// | `GET /cashier`, `GET /cashier?code=…` | an Indomaret or Alfamart till: the payment code's form; the bill with a Pay button |
/// | `POST /cashier/pay` | form `code`: pays it → the result page |
/// | `GET /pay/{va_number}` | the payment page ShopeePay's deeplink and the Akulaku and Kredivo redirects open: the account with an Approve button |
/// | `POST /pay/{va_number}` | approves: pays it → the result page |
public final class Bank: Sendable {
    /// The places where a test can stop a request (``checkpoints``). Each is passed once the
    /// route's decision is committed to the ledger and before its answer goes out: "the bank
    /// has decided, the gateway has not heard yet".
    public enum Step: Hashable, Sendable {
        /// `POST /cards/authorize` decided: approved (the money is held), waiting for the OTP, or declined.
        case authorized
        /// `POST /3ds/{id}` decided.
        case authenticated
        /// `POST /va` opened an account.
        case accountOpened
        /// An account took its money (`POST /va/{number}/pay`, a simulator's page, a linked
        /// wallet); the notice to the gateway is not sent yet.
        case paid
        /// `POST /references/{reference}/reverse` undid what it found.
        case reversed
    }

    /// Where tests stop requests to force an interleaving (see ``Step``).
    public let checkpoints = Checkpoints<Step>()
    /// The bank's name as a channel (`bca`, `bni`, …).
    public let bankCode: String

    let ledger: BankLedger
    /// The current failure drill (memory only: a restarted bank works normally).
    private let faults = Locked(BankAPI.Faults())
    /// Called (on the paying connection's task) when an account is paid: the bank's notice to
    /// the gateway.
    private let onPayment: (@Sendable (BankAPI.PaymentNotice) async -> Void)?
    /// Hears every change of the bank's books (for the demo).
    private let observer: PaymentObserver?
    /// The key the gateway presents (`Authorization: Bearer …`) on the routes only it may use
    /// (reversal, refund); nil: those routes are open (in-process tests).
    private let gatewayKey: String?

    /// A bank whose books are the SQLite file at `ledgerPath` (created if missing, resumed if
    /// not); nil: books in memory, gone with the bank.
    public init(bankCode: String = "bca", ledgerPath: String? = nil, onPayment: (@Sendable (BankAPI.PaymentNotice) async -> Void)? = nil,
                observer: PaymentObserver? = nil, gatewayKey: String? = nil) throws {
        self.bankCode = bankCode
        ledger = try BankLedger(path: ledgerPath)
        self.onPayment = onPayment
        self.observer = observer
        self.gatewayKey = gatewayKey
    }

    /// A payment notice sent to the gateway over HTTP(S): `POST {gatewayURL}/bank/v1/payments`
    /// with a ``BankAPI/PaymentNotice`` and `Authorization: Bearer {key}`. Retried with backoff
    /// (0.2 s, 0.4 s, … eight tries) while the gateway is unreachable or answers 5xx.
    public static func notice(gatewayURL: String, key: String, client: HTTPClient) -> @Sendable (BankAPI.PaymentNotice) async -> Void {
        { notice in
            for attempt in 0..<8 {
                do {
                    var request = HTTPClientRequest(method: .post, url: try HTTPURL(gatewayURL + "/bank/v1/payments"))
                    request.body = Array(try JSONEncoder().encode(notice))
                    try request.fields.append(name: "Content-Type", value: "application/json")
                    try request.fields.append(name: "Authorization", value: "Bearer \(key)")
                    let response = try await client.execute(request)
                    if response.status < 500 { return }
                } catch {}
                try? await Task.sleep(for: .milliseconds(200 << attempt))
            }
        }
    }

    /// Money held across all references (card approvals and paid accounts, less refunds and
    /// reversals). Throws if the ledger cannot be read: the bank never guesses its books.
    public var balance: Rupiah { get throws { try ledger.balance() } }

    /// Money held for `reference`.
    public func holding(reference: String) throws -> Rupiah { try ledger.holding(reference: reference) }

    /// The accounts opened for `reference` (for the demo's narration and for tests).
    public func accounts(reference: String) throws -> [BankAPI.VirtualAccount] { try ledger.accounts(reference: reference) }

    /// The bank's routes.
    public var router: Router {
        var router = Router()
        router.post("/cards/authorize") { [self] request in
            try await injectFaults()
            let body: BankAPI.CardAuthorization = try request.decodeJSON()
            try Self.validate(body.amount)
            let answer = try authorize(body)
            observer?(.bank(reference: body.reference, change: Self.describe(answer, amount: body.amount)))
            await checkpoints.pass(.authorized)
            try await delayAnswer()
            return try .json(answer)
        }
        router.post("/cards/points") { [self] request in
            try await injectFaults()
            let body: BankAPI.PointInquiry = try request.decodeJSON()
            guard SandboxCards.passesLuhn(body.card_number), Self.notExpired(month: body.expiry_month, year: body.expiry_year),
                let points = SandboxCards.card(body.card_number)?.rewardPoints
            else { throw HTTPError(status: 404, message: "this card collects no reward points") }
            return try .json(BankAPI.PointBalance(point_balance: points))
        }
        router.post("/3ds/{id}") { [self] request in
            try await injectFaults()
            let body: BankAPI.OTPSubmission = try request.decodeJSON()
            let id = request.pathParameters["id"] ?? ""
            guard let outcome = try ledger.authenticate(id: id, otpAccepted: body.otp == SandboxCards.otp) else {
                throw HTTPError(status: 404, message: "no such 3-D Secure authentication (or already used)")
            }
            var answer = Self.answer(outcome.decision)
            if answer.result == .approved { answer.eci = "05" }  // the holder authenticated
            observer?(.bank(reference: outcome.reference, change: answer.result == .approved
                ? "card approved after the 3-D Secure OTP for \(outcome.amount), approval code \(answer.approval_code ?? "-"): the money is held"
                : "3-D Secure OTP refused: \(answer.message)"))
            await checkpoints.pass(.authenticated)
            try await delayAnswer()
            return try .json(answer)
        }
        router.post("/va") { [self] request in
            try await injectFaults()
            let body: BankAPI.OpenAccount = try request.decodeJSON()
            try Self.validate(body.amount)
            if let number = body.number, !(1...20).contains(number.utf8.count) || !number.utf8.allSatisfy({ (48...57).contains($0) }) {
                throw HTTPError(status: 400, message: "an account number is 1 to 20 digits")
            }
            if let note = body.note, note.count > 20 || note.contains(where: { $0.utf8.count > 255 }) {
                throw HTTPError(status: 400, message: "a note is at most 20 lines of 255 bytes")
            }
            let account = try ledger.openAccount(bank: body.bank, amount: body.amount, reference: body.reference,
                                                 requested: body.number, note: body.note)
            observer?(.bank(reference: body.reference, change: account.closed
                ? "virtual account \(account.va_number) opened closed: this payment was reversed, the account can take no money"
                : "virtual account \(account.va_number) opened for \(body.amount), unpaid"))
            await checkpoints.pass(.accountOpened)
            try await delayAnswer()
            return try .json(account, status: 201)
        }
        router.get("/va/{number}") { [self] request in
            // An account's JSON names its reference (the gateway's transaction id): the gateway's
            // to read. A customer sees an account through the ATM page, by the number they hold.
            try requireGateway(request, to: "read an account")
            guard let account = try ledger.account(number: request.pathParameters["number"] ?? "") else {
                throw HTTPError(status: 404, message: "no such virtual account")
            }
            return try .json(account)
        }
        router.post("/va/{number}/pay") { [self] request in
            try Self.response(to: try await payAccount(request.pathParameters["number"] ?? "", how: "paid at the ATM"))
        }
        router.post("/wallets/link") { [self] request in
            try requireGateway(request, to: "link a wallet")
            let body: BankAPI.WalletLink = try request.decodeJSON()
            let result = SandboxWallets.link(phone: body.phone_number)
            guard result == .linked, let pin = body.pin else { return try .json(BankAPI.WalletLinked(result: result)) }
            guard ConstantTime.equal(pin, SandboxWallets.pin) else { throw HTTPError(status: 403, message: "wrong PIN") }
            observer?(.bank(reference: body.wallet, change: "wallet \(body.wallet) linked to a merchant's account"))
            return try .json(BankAPI.WalletLinked(result: .linked, token: try ledger.linkWallet(body.wallet)))
        }
        router.post("/wallets/unlink") { [self] request in
            try requireGateway(request, to: "unlink a wallet")
            let body: BankAPI.WalletToken = try request.decodeJSON()
            guard try ledger.unlinkWallet(token: body.token) else { throw HTTPError(status: 404, message: "no wallet is linked with this token") }
            return try .json(body)
        }
        router.post("/wallets/balance") { [self] request in
            try requireGateway(request, to: "read a wallet")
            let body: BankAPI.WalletToken = try request.decodeJSON()
            guard let wallet = try ledger.wallet(token: body.token) else { throw HTTPError(status: 404, message: "no wallet is linked with this token") }
            return try .json(BankAPI.WalletBalance(balance: try ledger.walletBalance(wallet)))
        }
        router.post("/wallets/pay") { [self] request in
            try requireGateway(request, to: "charge a linked wallet")
            try await injectFaults()
            let body: BankAPI.WalletPayment = try request.decodeJSON()
            switch try ledger.payFromWallet(token: body.token, number: body.va_number, pin: body.pin, recurring: body.recurring ?? false) {
            case .unknownToken: throw HTTPError(status: 404, message: "no wallet is linked with this token")
            case .pinRequired: throw HTTPError(status: 403, message: "the customer's PIN is required from \(SandboxWallets.pinThreshold) up")
            case .insufficientBalance(let balance): throw HTTPError(status: 402, message: "Insufficient Balance: the wallet holds \(balance)")
            case .account(let payment): return try Self.response(to: await announce(payment, number: body.va_number, how: "paid from the linked wallet"))
            }
        }
        router.post("/va/{number}/close") { [self] request in
            try requireGateway(request, to: "close an account")
            let number = request.pathParameters["number"] ?? ""
            guard let account = try ledger.close(number: number) else { throw HTTPError(status: 404, message: "no such virtual account") }
            observer?(.bank(reference: account.reference, change: "virtual account \(number) closed (cancelled or expired at the gateway)"))
            return try .json(account)
        }
        router.get("/balance") { [self] _ in
            struct Balance: Codable { var received: Rupiah }
            return try .json(Balance(received: try ledger.balance()))
        }
        router.get("/references/{reference}") { [self] request in
            let reference = request.pathParameters["reference"] ?? ""
            return try .json(BankAPI.Holding(reference: reference, held: try ledger.holding(reference: reference)))
        }
        router.post("/references/{reference}/reverse") { [self] request in
            try requireGateway(request, to: "reverse a payment")
            let reversal = try ledger.reverse(reference: request.pathParameters["reference"] ?? "")
            if reversal.reversed {
                observer?(.bank(reference: reversal.reference, change: reversal.returned > .zero
                    ? "reversed: \(reversal.returned) given back to the customer, the payment's accounts closed"
                    : "reversed: nothing was taken; any wait for an OTP dropped, the payment's accounts closed"))
            }
            await checkpoints.pass(.reversed)
            return try .json(reversal)
        }
        router.post("/references/{reference}/refund") { [self] request in
            try requireGateway(request, to: "refund a payment")
            try await injectFaults()
            let body: BankAPI.Refund = try request.decodeJSON()
            try Self.validate(body.amount)
            let reference = request.pathParameters["reference"] ?? ""
            let held: Rupiah
            switch try ledger.refund(reference: reference, amount: body.amount, key: body.refund_key) {
            case .refunded(let rest):
                observer?(.bank(reference: reference, change: "refunded \(body.amount) to the customer (refund key \(body.refund_key)): \(rest) still held"))
                held = rest
            case .repeated(let rest):
                held = rest
            case .exceedsHolding(let available):
                throw HTTPError(status: 409, message: "a refund of \(body.amount) is more than the \(available) held for this reference")
            case .keyReused(let first):
                throw HTTPError(status: 409, message: "refund key \(body.refund_key) already refunded \(first) for this reference; another amount needs another key")
            }
            try await delayAnswer()
            return try .json(BankAPI.Holding(reference: reference, held: held))
        }
        router.post("/faults") { [self] request in
            // Drills are the operator's: the same key (in the state folder, 0600) as the gateway's.
            try requireGateway(request, to: "set failure drills")
            let drill: BankAPI.Faults = try request.decodeJSON()
            faults.withLock { $0 = drill }
            return try .json(drill)
        }
        BankPages(bank: self).add(to: &router)
        return router
    }

    // MARK: Decisions

    /// Checks the card, then lets the ledger hold the money (or wait for the OTP). A declined
    /// card touches no books.
    func authorize(_ request: BankAPI.CardAuthorization) throws -> BankAPI.AuthorizationAnswer {
        guard SandboxCards.passesLuhn(request.card_number) else { return .init(result: .denied, message: "invalid card number", response_code: "14") }
        // A card on file is charged without its CVV (the holder is not there to type it).
        guard request.cvv == SandboxCards.cvv || (request.card_on_file == true && request.cvv.isEmpty) else {
            return .init(result: .denied, message: "CVV does not match", response_code: "82")
        }
        guard Self.notExpired(month: request.expiry_month, year: request.expiry_year) else { return .init(result: .denied, message: "card expired", response_code: "54") }
        guard let card = SandboxCards.card(request.card_number) else { return .init(result: .denied, message: "unknown card (use a sandbox card)", response_code: "14") }
        switch card.outcome {
        case .bankDeny: return .init(result: .denied, message: "Denied by bank", response_code: "05")
        case .insufficientFunds(let above) where request.amount > above:
            return .init(result: .denied, message: "Insufficient funds", response_code: "51")
        case .offlineOnly: return .init(result: .denied, message: "Transaction not permitted to cardholder", response_code: "57")
        default: break
        }
        // 3-D Secure only when the merchant asks for it; then an enrolled card waits for its
        // holder's OTP, and one that is not enrolled is an attempted authentication.
        let asked = request.authentication ?? false
        var answer = Self.answer(try ledger.authorize(request.amount, reference: request.reference, needsOTP: asked && card.threeDSecure))
        if answer.result == .approved { answer.eci = asked ? "06" : "07" }
        return answer
    }

    static func answer(_ decision: BankLedger.CardDecision) -> BankAPI.AuthorizationAnswer {
        switch decision {
        case .approved(let code): .init(result: .approved, approval_code: code, message: "Approved")
        case .awaitingOTP(let id): .init(result: .authenticationRequired, authentication_id: id, message: "enter the OTP sent to the card holder")
        case .otpRefused: .init(result: .denied, message: "Card is not authenticated.")
        case .reversed: .init(result: .denied, message: "this payment was reversed by the gateway")
        }
    }

    static func describe(_ answer: BankAPI.AuthorizationAnswer, amount: Rupiah) -> String {
        switch answer.result {
        case .approved: "card approved for \(amount), approval code \(answer.approval_code ?? "-"): the money is held"
        case .authenticationRequired: "3-D Secure required: waiting for the card holder's OTP"
        case .denied: "card declined: \(answer.message)"
        }
    }

    /// An amount the bank deals in: positive, below 10^12 rupiah (JSON decoding already refused
    /// negatives and fractions).
    static func validate(_ amount: Rupiah) throws {
        guard amount > .zero, amount.amount < 1_000_000_000_000 else {
            throw HTTPError(status: 400, message: "amount must be a positive whole number of rupiah (below 10^12)")
        }
    }

    static func notExpired(month: String, year: String, now: Date = Date()) -> Bool {
        guard let expiry = SandboxCards.expiry(month: month, year: year) else { return false }
        let parts = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: now)
        return (expiry.year, expiry.month) >= (parts.year ?? 0, parts.month ?? 0)
    }

    // MARK: Payments into accounts

    /// The customer pays account `number` — at the ATM, in the e-wallet or pay-later app, at a
    /// shop's till — and, once the money is taken, the gateway is told. `POST /va/{number}/pay`
    /// and every page that pays (``BankPages``) come here, so a payment is taken, narrated and
    /// noticed the same way wherever the customer stands; `how` says where, for the narration.
    ///
    /// A refusal (no such account, already paid, closed) moves nothing and is returned, not
    /// thrown: each caller answers it in its own shape (JSON, a page). Throws only when the
    /// books cannot be written, or a failure drill says so.
    func payAccount(_ number: String, how: String) async throws -> BankLedger.AccountPayment {
        try await injectFaults()
        return await announce(try ledger.pay(number: number), number: number, how: how)
    }

    /// What follows a payment the ledger committed: the narration, the ``Step/paid``
    /// checkpoint, then the notice to the gateway — awaited, so the customer's answer comes
    /// after the gateway has heard (or the notice gave up retrying). A refusal passes through.
    private func announce(_ payment: BankLedger.AccountPayment, number: String, how: String) async -> BankLedger.AccountPayment {
        guard case .paid(let account) = payment else { return payment }
        observer?(.bank(reference: account.reference, change: "virtual account \(number) \(how): \(account.amount) received"))
        await checkpoints.pass(.paid)
        await onPayment?(BankAPI.PaymentNotice(reference: account.reference, amount: account.amount, channel: account.bank))
        return payment
    }

    /// The HTTP status of a payment's outcome, the same for the JSON routes and the pages:
    /// 200 paid, 404 no such account, 409 already paid, 410 closed.
    static func status(of payment: BankLedger.AccountPayment) -> Int {
        switch payment {
        case .paid: 200
        case .noSuchAccount: 404
        case .alreadyPaid: 409
        case .closed: 410
        }
    }

    /// A payment's JSON answer: the account as it now is, or the refusal as an ``HTTPError``.
    private static func response(to payment: BankLedger.AccountPayment) throws -> HTTPResponse {
        let status = status(of: payment)
        switch payment {
        case .paid(let account): return try .json(account)
        case .noSuchAccount: throw HTTPError(status: status, message: "no such virtual account")
        case .alreadyPaid: throw HTTPError(status: status, message: "this virtual account is already paid")
        case .closed: throw HTTPError(status: status, message: "this virtual account is closed (the payment was cancelled or expired)")
        }
    }

    // MARK: Plumbing

    private func requireGateway(_ request: HTTPRequest, to action: String) throws {
        guard let gatewayKey else { return }
        let presented = request.fields["Authorization"] ?? ""
        guard presented.hasPrefix("Bearer "), ConstantTime.equal(String(presented.dropFirst(7)), gatewayKey) else {
            throw HTTPError(status: 401, message: "only the gateway may \(action)")
        }
    }

    private func delayAnswer() async throws {
        if let wait = faults.withLock({ $0.answer_latency_ms }), wait > 0 { try await Task.sleep(for: .milliseconds(wait)) }
    }

    private func injectFaults() async throws {
        let drill = faults.withLock { $0 }
        if drill.latency_ms > 0 { try await Task.sleep(for: .milliseconds(drill.latency_ms)) }
        if let status = drill.failure_status { throw HTTPError(status: status, message: "injected fault") }
    }
}
