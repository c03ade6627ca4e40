/// `payment_type`: how the customer pays. Cards are decided at once (or after 3-D Secure); the
/// others open an account at the bank that the customer pays into later — at an ATM, in an
/// e-wallet app, by scanning a QR code, at a shop's counter, or with a pay-later provider.
public enum PaymentType: String, Hashable, Sendable, Codable, CaseIterable {
    case creditCard = "credit_card"
    case bankTransfer = "bank_transfer"
    case echannel
    case gopay
    case shopeepay
    case qris
    case cstore
    case akulaku
    case kredivo

    public var isCard: Bool { self == .creditCard }
}
