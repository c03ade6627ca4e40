/// `transaction_status`: the state of a payment (not the result of one API call).
public enum TransactionStatus: String, Hashable, Sendable, Codable, CaseIterable {
    case authorize, capture, settlement, pending, deny, cancel, expire, failure
    case refund, partialRefund = "partial_refund", chargeback, partialChargeback = "partial_chargeback"

    /// No further change is possible (RFC of the gateway: any action answers 412).
    public var isFinal: Bool {
        switch self {
        case .deny, .cancel, .expire, .failure, .refund, .chargeback: true
        case .authorize, .capture, .settlement, .pending, .partialRefund, .partialChargeback: false
        }
    }
}

/// `fraud_status`: the fraud-detection verdict.
public enum FraudStatus: String, Hashable, Sendable, Codable {
    case accept, challenge, deny
}

/// The transaction state machine of Midtrans' Core API, as the gateway enforces it:
///
///     charge ─┬─> pending ─(paid)─> settlement (non-card) / capture[accept] (card, after 3-DS)
///             │      ├─(expire)─> expire    ├─(cancel)─> cancel    └─(provider or 3-DS fails)─> deny
///             ├─> capture[accept] ─(settle, D+1)─> settlement ─(refund)─> refund | partial_refund
///             │      └─(cancel before settlement)─> cancel
///             ├─> capture[challenge] ─(approve)─> capture[accept];  ─(deny)─> cancel
///             └─> deny (bank or fraud decline at charge time)
///
/// A merchant-denied challenge becomes `cancel` (the docs disagree; this is the documented
/// choice). Every change of `transaction_status` emits exactly one notification; a move not in
/// the graph is refused with `412` and changes nothing.
public struct TransactionState: Hashable, Sendable {
    public private(set) var status: TransactionStatus
    public private(set) var fraud: FraudStatus?
    public let grossAmount: Rupiah
    public let isCard: Bool
    /// Refunded so far.
    public private(set) var refunded = Rupiah(0)

    /// A state as stored (`refunded` restores partial refunds from a durable store).
    public init(status: TransactionStatus, fraud: FraudStatus?, grossAmount: Rupiah, isCard: Bool, refunded: Rupiah = Rupiah(0)) {
        self.status = status
        self.fraud = fraud
        self.grossAmount = grossAmount
        self.isCard = isCard
        self.refunded = refunded
    }

    /// What may happen to a transaction after it was created.
    public enum Event: Hashable, Sendable {
        /// The customer paid (VA at the bank, QR/e-wallet, or a card's 3-DS OTP accepted).
        case paid
        /// The provider rejected a pending payment (e.g. 3-DS authentication failed).
        case providerDenied
        /// The D+1 settlement of a captured card payment.
        case settle
        /// The merchant approves a fraud challenge (`POST /v2/{id}/approve`).
        case approve
        /// The merchant denies a fraud challenge (`POST /v2/{id}/deny`).
        case deny
        /// The merchant cancels (`POST /v2/{id}/cancel`).
        case cancel
        /// Expiry by API (`POST /v2/{id}/expire`) or by time.
        case expire
        /// A (partial) refund of this amount (`POST /v2/{id}/refund`).
        case refund(Rupiah)
    }

    /// What the gateway does about an event.
    public enum Outcome: Hashable, Sendable {
        /// The state changed; `notify` says whether a notification is due (status changes only).
        case changed(from: TransactionStatus, to: TransactionStatus, notify: Bool)
        /// The event is not allowed now: Midtrans' `412`, or `414` for a refund over the balance.
        case refused(statusCode: String, message: String)
    }

    /// Applies `event`; on refusal nothing changes.
    public mutating func apply(_ event: Event) -> Outcome {
        let before = status
        func move(_ to: TransactionStatus, fraud newFraud: FraudStatus? = nil) -> Outcome {
            status = to
            if let newFraud { fraud = newFraud }
            return .changed(from: before, to: to, notify: before != to)
        }
        let illegal = Outcome.refused(statusCode: "412", message: "Merchant cannot modify the status of the transaction")
        switch (event, status) {
        case (.paid, .pending):
            return isCard ? move(.capture, fraud: .accept) : move(.settlement, fraud: .accept)
        case (.providerDenied, .pending):
            return move(.deny)
        case (.settle, .capture) where fraud == .accept:
            return move(.settlement)
        case (.approve, .capture) where fraud == .challenge:
            // The status stays capture; only the fraud verdict changes — and that is still news
            // for the merchant, so it is notified.
            fraud = .accept
            return .changed(from: before, to: .capture, notify: true)
        case (.deny, .capture) where fraud == .challenge:
            return move(.cancel, fraud: .deny)
        case (.cancel, .pending), (.cancel, .authorize), (.cancel, .capture):
            return move(.cancel)
        case (.expire, .pending), (.expire, .authorize):
            return move(.expire)
        case (.refund(let amount), .settlement), (.refund(let amount), .partialRefund):
            guard amount.amount > 0, amount.amount <= grossAmount.amount - refunded.amount else {
                return .refused(statusCode: "414", message: "Refund amount is invalid or greater than the remaining amount")
            }
            refunded = Rupiah(refunded.amount + amount.amount)
            return move(refunded == grossAmount ? .refund : .partialRefund)
        default:
            return illegal
        }
    }

    /// The `status_code` a notification or status answer carries for this state:
    /// 200 paid (capture, settlement, refunds), 201 waiting (pending, challenge), 202 failed
    /// (deny, cancel, expire, failure).
    public var statusCode: String {
        switch status {
        case .capture where fraud == .challenge: "201"
        case .authorize, .capture, .settlement, .refund, .partialRefund, .chargeback, .partialChargeback: "200"
        case .pending: "201"
        case .deny, .cancel, .expire, .failure: "202"
        }
    }
}
