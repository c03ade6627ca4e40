/// An order's status in the merchant's shop: what the customer sees. It follows the gateway's
/// transaction (never a notification's claim), through ``init(transactionStatus:fraudStatus:)``
/// — the one mapping the shop, the lab's reference handler and students' handlers share.
public enum OrderStatus: String, Hashable, Sendable, Codable, CaseIterable {
    /// Placed; the gateway has not been heard from yet.
    case created
    /// Waiting for the customer to pay (a VA, a bill, a QR code, a 3-D Secure OTP).
    case awaitingPayment = "awaiting_payment"
    /// Captured, but fraud detection wants a person to look (`fraud_status` challenge).
    case awaitingReview = "awaiting_review"
    case paid
    case partiallyRefunded = "partially_refunded"
    case refunded
    case denied
    case cancelled
    case expired
    case failed

    /// The order status a transaction means (`transaction_status` and `fraud_status` as the
    /// gateway's status answer writes them). A status this version does not know is `failed`.
    public init(transactionStatus: String, fraudStatus: String?) {
        switch TransactionStatus(rawValue: transactionStatus) {
        case .capture: self = fraudStatus == FraudStatus.challenge.rawValue ? .awaitingReview : .paid
        case .settlement: self = .paid
        case .pending, .authorize: self = .awaitingPayment
        case .deny: self = .denied
        case .cancel: self = .cancelled
        case .expire: self = .expired
        case .refund, .chargeback: self = .refunded
        case .partialRefund, .partialChargeback: self = .partiallyRefunded
        case .failure, nil: self = .failed
        }
    }

    /// How far along an order is: an order never moves to an earlier stage, so a late or
    /// replayed answer cannot undo newer news (a cancelled order never becomes paid again, a paid
    /// one never awaits payment again). The endings that no payment follows come last.
    public var stage: Int {
        switch self {
        case .created: 0
        case .awaitingPayment: 1
        case .awaitingReview: 2
        case .paid: 3
        case .partiallyRefunded: 4
        case .refunded: 5
        case .denied, .cancelled, .expired, .failed: 6
        }
    }
}
