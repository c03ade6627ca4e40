/// A card as the customer typed it into the payment page: what a token stands for.
///
/// It lives sealed in the ``CardVault`` until its charge spends it, and on the wire to the bank
/// (``BankAPI/CardAuthorization``); it is never logged or shown. A saved card keeps only its
/// number and expiry, sealed (``SavedCard``); the CVV never outlives the charge (PCI DSS 3.2: no
/// storage of the card verification code after authorisation).
public struct StoredCard: Sendable, Equatable, Codable {
    public var number: String
    public var cvv: String
    public var expiryMonth: String
    public var expiryYear: String

    public init(number: String, cvv: String, expiryMonth: String, expiryYear: String) {
        self.number = number
        self.cvv = cvv
        self.expiryMonth = expiryMonth
        self.expiryYear = expiryYear
    }

    /// `48111111-1114`: the first eight and last four digits, as Midtrans shows `masked_card`.
    public var masked: String { SandboxCards.masked(number) }
}
