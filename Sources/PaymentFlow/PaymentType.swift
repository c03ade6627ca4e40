/// `payment_type`: how the customer pays. Cards are decided at once (or after 3-D Secure); the
/// others open an account at the bank that the customer pays into later.
public enum PaymentType: String, Hashable, Sendable, Codable, CaseIterable {
    case creditCard = "credit_card"
    case bankTransfer = "bank_transfer"
    case echannel
    case gopay
    case qris

    public var isCard: Bool { self == .creditCard }
}
