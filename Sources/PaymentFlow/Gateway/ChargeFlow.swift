import Foundation
import TCPSocket

/// The driver of the charge saga: performs each ``ChargeSaga/Action`` (HTTP calls to fraud
/// detection and the bank, records through the ledger) and feeds back what came of it.
///
/// The order is the whiteboard's: **reserve** the order id (a second charge with it gets `406`
/// and never reaches the bank; the stored step `reserved` tells whoever finds it later that calls
/// may be under way) → **fraud** (a denied card never reaches the bank) → **bank** → **record**
/// the outcome through the ledger, which refuses it if the transaction moved on meanwhile — then
/// whatever the bank did is **reversed**. A call without an answer leaves the outcome in doubt:
/// the charge is **abandoned** (`failure`, order id free again, a reversal owed).
final class ChargeFlow: Sendable {
    let ledger: TransactionLedger
    let store: any TransactionStore
    let bank: BankClient
    let fraud: FraudClient
    let vault: CardVault
    let obligations: BankObligations
    let configuration: GatewayConfiguration
    /// The gateway's base URL as clients reach it (known once it listens).
    let publicURL: @Sendable () -> String
    /// Charges (and OTP checks) running in this process, counted per transaction id (two OTP
    /// posts for one charge run side by side; the first to end must not unmark the other):
    /// recovery leaves them alone.
    private let running = Locked<[String: Int]>([:])

    init(ledger: TransactionLedger, store: any TransactionStore, bank: BankClient, fraud: FraudClient, vault: CardVault,
         obligations: BankObligations, configuration: GatewayConfiguration, publicURL: @escaping @Sendable () -> String) {
        self.publicURL = publicURL
        self.ledger = ledger
        self.store = store
        self.bank = bank
        self.fraud = fraud
        self.vault = vault
        self.obligations = obligations
        self.configuration = configuration
    }

    /// What a finished charge (or OTP) step tells the merchant.
    struct Result: Sendable {
        var transaction: GatewayTransaction
        /// Midtrans' `status_message` for this outcome.
        var message: String
        /// The bank's reason for a decline (`channel_response_message`).
        var bankMessage: String?
    }

    /// Whether a charge or OTP check of this transaction runs in this process now.
    func isRunning(_ transactionID: String) -> Bool { running.withLock { $0[transactionID] != nil } }

    private func start(_ id: String) { running.withLock { $0[id, default: 0] += 1 } }

    private func end(_ id: String) {
        running.withLock { running in
            running[id, default: 1] -= 1
            if running[id] == 0 { running[id] = nil }
        }
    }

    // MARK: Charge

    func charge(_ request: ChargeRequest, merchant: MerchantAccount) async throws(GatewayError) -> Result {
        let now = configuration.now()
        // The card first: an unusable token is 411 before anything is reserved. A saved token
        // is a card on file (one-click: no CVV); `save_token_id` keeps a typed card for later.
        var card: StoredCard?, onFile = false, saved: SavedCard?
        if request.paymentType.isCard {
            guard let token = request.tokenID else { throw .invalidToken }
            if let taken = try vault.take(token, merchantID: merchant.merchantID, now: now) {
                card = taken
            } else if request.allowsSavedCard, let found = try vault.saved(token, merchantID: merchant.merchantID, now: now) {
                (card, onFile, saved) = (found.card, true, found.record)
            } else {
                throw .invalidToken
            }
            if let bins = request.bins, let number = card?.number, !Self.accepts(bins, number: number) {
                throw .validation(["credit_card.bins does not include this card"])
            }
            // Kept inactive until the bank approves this charge (a declined card is never usable).
            if request.saveCard, saved == nil, let card { saved = try vault.save(card, merchantID: merchant.merchantID, active: false) }
        }
        var transaction = GatewayTransaction(
            transactionID: UUID().uuidString.lowercased(), orderID: request.orderID, merchantID: merchant.merchantID,
            paymentType: request.paymentType, state: .reserved(grossAmount: request.grossAmount, isCard: request.paymentType.isCard),
            transactionTime: Timestamp.midtrans(now))
        transaction.overrideNotificationURLs = request.overrideNotificationURLs
        transaction.appendNotificationURLs = request.appendNotificationURLs
        transaction.maskedCard = card?.masked
        transaction.extra = request.echoed
        if let number = card?.number, SandboxCards.card(number)?.debit == true { transaction.extra["card_type"] = "debit" }
        if let saved {
            transaction.extra["saved_token_id"] = saved.savedTokenID
            transaction.extra["saved_token_id_expired_at"] = saved.expiresAt
        }
        if let term = request.installmentTerm { transaction.extra["installment_term"] = String(term) }
        transaction.bank = request.channel.bank
        let id = transaction.transactionID
        start(id)
        defer { end(id) }
        guard try storing({ try store.reserve(transaction) }) else { throw .duplicateOrderID }

        var saga = ChargeSaga.reserved
        let first = saga.handle(.begin(isCard: request.paymentType.isCard))
        return try await drive(&saga, first, transaction, merchant: merchant, card: card, onFile: onFile, otp: nil, channel: request.channel,
                               preauthorize: request.preauthorize, authentication: request.authentication, expiry: request.customExpiry)
    }

    // MARK: 3-D Secure

    /// The OTP the card holder typed, for a charge waiting for it. The authentication is taken
    /// once, atomically, and only while the charge still waits (a cancelled or expired charge is
    /// never charged by a late OTP).
    func verifyOTP(transactionID: String, otp: String, merchant: MerchantAccount) async throws(GatewayError) -> Result {
        start(transactionID)
        defer { end(transactionID) }
        let taken = try ledger.amend(merchantID: merchant.merchantID, id: transactionID) { transaction throws(GatewayError) -> (GatewayTransaction, ChargeSaga, ChargeSaga.Action, String) in
            var saga = transaction.charge
            guard transaction.transactionID == transactionID, transaction.state.status == .pending,
                let authentication = transaction.authenticationID
            else { throw .transactionNotFound }
            let action = saga.handle(.otpSubmitted)
            guard action == .verifyOTP else { throw .transactionNotFound }
            // Stored before the bank is asked: a crash from here on leaves the charge in doubt.
            transaction.charge = saga
            transaction.authenticationID = nil
            return (transaction, saga, action, authentication)
        }
        var (transaction, saga, action, authentication) = taken
        transaction.authenticationID = authentication
        return try await drive(&saga, action, transaction, merchant: merchant, card: nil, otp: otp, channel: .card)
    }

    // MARK: The driver

    private func drive(_ saga: inout ChargeSaga, _ first: ChargeSaga.Action, _ start: GatewayTransaction, merchant: MerchantAccount,
                       card: StoredCard?, onFile: Bool = false, otp: String?, channel: PaymentChannel, preauthorize: Bool = false,
                       authentication: Bool = false, expiry: (from: Date?, lasts: Duration)? = nil) async throws(GatewayError) -> Result {
        var transaction = start
        var action = first
        var bankMessage: String?
        var found: (approval: String?, authentication: String?, account: BankAPI.VirtualAccount?, eci: String?) = (nil, nil, nil, nil)
        var responseCode: String?
        while true {
            let event: ChargeSaga.Event
            switch action {
            case .assessFraud:
                let check = FraudCheck(merchantID: merchant.merchantID, orderID: transaction.orderID, paymentType: transaction.paymentType,
                                       grossAmount: transaction.state.grossAmount, card: card)
                do {
                    event = .fraudVerdict(try await fraud.assess(check).fraud_status)
                } catch {
                    // Nobody was charged: give the order id back and say why.
                    _ = try? ledger.record(.abandon, merchantID: merchant.merchantID, id: transaction.transactionID)
                    throw error
                }
            case .authorizeCard:
                guard let card else { throw .internalFailure("a card charge without its card") }
                do {
                    let answer = try await bank.authorize(BankAPI.CardAuthorization(
                        card: card, amount: transaction.state.grossAmount, reference: transaction.transactionID,
                        authentication: authentication, cardOnFile: onFile))
                    (found.approval, found.authentication, bankMessage) = (answer.approval_code, answer.authentication_id, answer.message)
                    found.eci = answer.eci
                    responseCode = answer.response_code
                    event = .bankAnswered(answer.result)
                } catch {
                    event = .noAnswer
                }
            case .openAccount:
                do {
                    let account = try await bank.openAccount(BankAPI.OpenAccount(
                        bank: channel.bankChannel, amount: transaction.state.grossAmount, reference: transaction.transactionID,
                        number: channel.customNumber, note: channel.accountNote.isEmpty ? nil : channel.accountNote))
                    // Numbers are unique for ever, and the gateway checks: a bank that lost its
                    // books and hands out a number again would settle one customer's payment
                    // into another's order. Such an answer is no answer; the account is reversed.
                    let holder = try store.transaction(vaNumber: account.va_number)
                    if account.reference != transaction.transactionID || (holder.map { $0.transactionID != transaction.transactionID } ?? false) {
                        event = .noAnswer
                    } else {
                        found.account = account
                        event = .accountOpened
                    }
                } catch {
                    event = .noAnswer
                }
            case .verifyOTP:
                do {
                    let answer = try await bank.verify(authenticationID: transaction.authenticationID ?? "", otp: otp ?? "")
                    (found.approval, bankMessage) = (answer.approval_code, answer.message)
                    found.eci = answer.eci
                    event = .bankAnswered(answer.result)
                } catch {
                    event = .noAnswer
                }
            case .record(let decided):
                // A pre-authorisation keeps the approved money held (`authorize`) for the merchant
                // to capture; the saga's steps are the same.
                var outcome = decided
                if preauthorize, case .authorized(let verdict) = decided { outcome = .held(fraud: verdict) }
                let next = saga
                do {
                    transaction = try ledger.record(outcome, merchantID: merchant.merchantID, id: transaction.transactionID, alongside: {
                        transaction throws(GatewayError) in
                        transaction.charge = next
                        if let code = found.approval { transaction.approvalCode = code }
                        if let eci = found.eci { transaction.extra["eci"] = eci }
                        // The issuer's answer, in ISO 8583's response codes (a fraud denial never reached it).
                        switch outcome {
                        case .authorized, .held:
                            (transaction.extra["channel_response_code"], transaction.extra["channel_response_message"]) = ("00", "Approved")
                        case .declined(fraud: .accept):
                            (transaction.extra["channel_response_code"], transaction.extra["channel_response_message"]) = (responseCode ?? "05", bankMessage ?? "Do not honor")
                        default: break
                        }
                        if authentication, transaction.paymentType.isCard { transaction.extra["three_ds_version"] = "2" }
                        if let authentication = found.authentication, outcome == .awaitAuthentication {
                            transaction.authenticationID = authentication
                            transaction.expiryTime = Timestamp.midtrans(configuration.now().addingTimeInterval(Timestamp.seconds(configuration.authenticationExpiry)))
                        }
                        if let account = found.account { self.open(account, on: &transaction, channel: channel, expiry: expiry) }
                        if case .held = outcome {
                            // An authorisation not captured in time is released (Midtrans: 7 days).
                            transaction.expiryTime = Timestamp.midtrans(configuration.now().addingTimeInterval(Timestamp.seconds(configuration.authorizationExpiry)))
                        }
                    })
                } catch GatewayError.illegalTransition {
                    action = saga.handle(.outcomeRefused)
                    continue
                }
                if transaction.reversalOwed { await obligations.settle(transaction) }
                if outcome == .abandon { throw .chargeInDoubt }
                switch outcome {
                case .authorized, .held:
                    // A card this charge saved becomes usable now that the bank approved it.
                    if let token = transaction.extra["saved_token_id"] { try? vault.activate(token) }
                default: break
                }
                return Result(transaction: transaction, message: Self.message(for: outcome, transaction, channel: channel), bankMessage: bankMessage)
            case .reverse:
                // The charge lost its race (cancelled or expired meanwhile): whatever the bank did
                // for it is undone, now and — should the bank be unreachable — by the timers.
                let current = try? ledger.amend(merchantID: merchant.merchantID, id: transaction.transactionID) {
                    transaction throws(GatewayError) -> GatewayTransaction in
                    transaction.charge = .finished
                    // Only a transaction nobody keeps gives the money back (it is, or it would
                    // not have refused the outcome; checked again here, in the same step).
                    if transaction.state.owesReversal { transaction.reversalOwed = true }
                    return transaction
                }
                if let current { await obligations.settle(current) }
                throw .chargeSuperseded(current?.state.status ?? .cancel)
            case .refuse:
                throw .transactionNotFound
            }
            action = saga.handle(event)
        }
    }

    /// The account the bank opened, as the merchant sees it (the channel decides), and when an
    /// unpaid one expires: the merchant's `custom_expiry`, else the gateway's default.
    private func open(_ account: BankAPI.VirtualAccount, on transaction: inout GatewayTransaction, channel: PaymentChannel,
                      expiry: (from: Date?, lasts: Duration)?) {
        let from = expiry?.from ?? configuration.now()
        let lasts = expiry?.lasts ?? min(channel.defaultExpiry ?? configuration.paymentExpiry, configuration.paymentExpiry)
        transaction.expiryTime = Timestamp.midtrans(from.addingTimeInterval(Timestamp.seconds(lasts)))
        channel.show(account: account.va_number, on: &transaction, gateway: publicURL(), bank: configuration.publicBankURL ?? configuration.bankURL)
    }

    /// `credit_card.bins`: the card starts with one of the digit prefixes, or its issuer is one
    /// of the named banks (the sandbox's bank-specific cards name theirs; the general ones are BNI's).
    static func accepts(_ bins: [String], number: String) -> Bool {
        let issuer = SandboxCards.card(number)?.issuer ?? .bni
        return bins.contains { entry in entry.first?.isNumber == true ? number.hasPrefix(entry) : entry == issuer.rawValue }
    }

    /// Midtrans' `status_message` for a charge's outcome.
    static func message(for outcome: TransactionState.Event, _ transaction: GatewayTransaction, channel: PaymentChannel) -> String {
        switch (outcome, transaction.paymentType) {
        case (.awaitAuthentication, _): "Success, Credit Card transaction is created; 3-D Secure authentication is required"
        case (.authorized(fraud: .challenge), _), (.held(fraud: .challenge), _): "Challenge by FDS"
        case (.held, _): "Success, Credit Card transaction is authorized"
        case (.authorized, _): "Success, Credit Card transaction is successful"
        case (.declined(fraud: .deny), _): "Denied by fraud detection"
        case (.declined, _): "Denied by bank"
        case (.awaitPayment, _): channel.createdMessage
        default: "Success"
        }
    }
}
