/// A card as the customer typed it into the payment page: what a token stands for.
///
/// It lives in the payment service's memory (``CardVault``) and on the wire to the bank
/// (``BankAPI/CardAuthorization``); it is never logged or shown. Only a saved card reaches the
/// disk, and then only its number and expiry, sealed (``SavedCard``); the CVV never does (PCI
/// DSS 3.2: no storage of the card verification code at all).
public struct StoredCard: Sendable, Equatable {
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
