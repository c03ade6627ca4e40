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
///     reserve ─> pending ─(paid)─────────────> settlement (VA, bill, QR, e-wallet)
///                  │ ├─(authorized[accept])──> capture[accept] ─(settle, D+1)─> settlement ─(refund)─> refund | partial_refund
///                  │ ├─(authorized[challenge])> capture[challenge] ─(approve)─> capture[accept]
///                  │ ├─(held)────────────────> authorize ─(capture)─> capture;  ─(cancel | expire)─> cancel | expire
///                  │ │                                 └─(deny)─> cancel
///                  │ ├─(declined)────────────> deny   (the bank, the fraud rules or 3-D Secure said no)
///                  │ ├─(awaitAuthentication)─> pending (3-D Secure: waits for the OTP)
///                  │ ├─(awaitPayment)────────> pending (an account is open for the customer to pay)
///                  │ ├─(cancel)──────────────> cancel   capture ─(cancel, before settlement)─> cancel
///                  │ ├─(expire)──────────────> expire
///                  └─┴─(abandon)─────────────> failure  (the bank's answer never came: in doubt)
///
/// Every outcome of every path — a card's bank answer, an OTP, a bank's payment notice, a
/// timer, a merchant's action, crash recovery — is an ``Event`` applied here, inside the store's
/// atomic read-change-write. So two paths racing for one transaction cannot both win: the
/// second finds the state the first left and is refused if its move is no longer in the graph
/// (Midtrans' `412`). A merchant-denied challenge becomes `cancel` (the docs disagree; this is
/// the documented choice). A move not in the graph changes nothing.
public struct TransactionState: Hashable, Sendable {
    public private(set) var status: TransactionStatus
    /// The fraud verdict the merchant sees; nil while a charge is still pending (the verdict of
    /// a card waiting for 3-D Secure is the charge saga's, not yet the transaction's).
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

    /// A charge just reserved: `pending`, no verdict yet (waiting payments carry `accept`).
    public static func reserved(grossAmount: Rupiah, isCard: Bool) -> TransactionState {
        TransactionState(status: .pending, fraud: isCard ? nil : .accept, grossAmount: grossAmount, isCard: isCard)
    }

    /// What may happen to a transaction after it was reserved.
    public enum Event: Hashable, Sendable {
        /// The customer paid a waiting payment (VA at the bank, QR/e-wallet, bill).
        case paid
        /// The bank approved a card (at once, or after the 3-D Secure OTP) with this fraud verdict.
        case authorized(fraud: FraudStatus)
        /// The bank approved a pre-authorisation (`credit_card.type: authorize`): the money is
        /// held, and taken only when the merchant captures it.
        case held(fraud: FraudStatus)
        /// The merchant captures a pre-authorised card (`POST /v2/capture`).
        case capture
        /// Declined: by the bank or 3-D Secure (`fraud` accept), or by fraud detection (`deny`).
        case declined(fraud: FraudStatus)
        /// The card needs the holder's OTP first; the charge stays pending (and is announced).
        case awaitAuthentication
        /// The bank opened the account the customer pays into; the charge stays pending (and is announced).
        case awaitPayment
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
        /// The charge's outcome is in doubt (the bank never answered): given up, order id freed.
        case abandon
    }

    /// Why an event was refused.
    public enum Refusal: Error, Hashable, Sendable {
        /// The move is not in the graph from this status (Midtrans' `412`).
        case illegalMove(from: TransactionStatus)
        /// A refund of more than what is left, or of nothing (Midtrans' `414`).
        case refundOverBalance(requested: Rupiah, remaining: Rupiah)

        /// Midtrans' `status_code` for the refusal.
        public var statusCode: String {
            switch self {
            case .illegalMove: "412"
            case .refundOverBalance: "414"
            }
        }
    }

    /// What the gateway does about an event.
    public enum Outcome: Hashable, Sendable {
        /// The state changed; `notify` says whether the merchant must hear of it (a new status,
        /// a new fraud verdict or a new refund). A charge's first outcome is announced even when
        /// it stays pending; that is the caller's knowledge (``GatewayTransaction/announced``).
        case changed(from: TransactionStatus, to: TransactionStatus, notify: Bool)
        /// The event is not allowed now; nothing changed.
        case refused(Refusal)
    }

    /// Applies `event`; on refusal nothing changes.
    public mutating func apply(_ event: Event) -> Outcome {
        let before = status
        func move(_ to: TransactionStatus, fraud newFraud: FraudStatus? = nil) -> Outcome {
            status = to
            if let newFraud { fraud = newFraud }
            return .changed(from: before, to: to, notify: before != to)
        }
        switch (event, status) {
        case (.paid, .pending) where !isCard:
            return move(.settlement, fraud: .accept)
        case (.authorized(let verdict), .pending) where isCard && verdict != .deny:
            return move(.capture, fraud: verdict)
        case (.held(let verdict), .pending) where isCard && verdict != .deny:
            return move(.authorize, fraud: verdict)
        case (.capture, .authorize):
            return move(.capture)
        case (.declined(let verdict), .pending):
            return move(.deny, fraud: verdict)
        case (.awaitAuthentication, .pending) where isCard, (.awaitPayment, .pending) where !isCard:
            return .changed(from: .pending, to: .pending, notify: false)
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
            let remaining = grossAmount - refunded
            guard amount.amount > 0, amount <= remaining else {
                return .refused(.refundOverBalance(requested: amount, remaining: remaining))
            }
            refunded = refunded + amount
            return move(refunded == grossAmount ? .refund : .partialRefund)
        case (.abandon, .pending):
            return move(.failure)
        default:
            return .refused(.illegalMove(from: before))
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

    /// Whether the bank may still hold money or an open account for this transaction that the
    /// gateway will not keep: entering `cancel`, `expire` or `failure` owes the bank a reversal
    /// (a void of a captured card, the close of an account, the return of a late payment).
    public var owesReversal: Bool {
        // A waiting payment refused (a linked wallet without the balance) leaves an open account
        // at the bank: it is closed, and anything paid into it later goes back.
        [.cancel, .expire, .failure].contains(status) || (status == .deny && !isCard)
    }
}
