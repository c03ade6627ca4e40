import Foundation
import TCPSocket
import TLSWrapper

/// Card tokens: what `GET /v2/token` hands the browser instead of the card, and saved cards.
///
/// A token stands for a ``StoredCard`` — number and CVV — kept only until the charge that spends
/// it: a token is single use, expires, and only the merchant it was made for can spend it
/// (another merchant cannot burn it). The card is sealed with the vault key (AES-256-GCM, bound
/// to the token and merchant) into an ``EphemeralStore``: one gateway keeps it in its memory
/// (a restart forgets it; the payment page makes a new one), instances sharing PostgreSQL keep it
/// in an unlogged table, so the instance the merchant's charge reaches can spend a token another
/// made for the browser. The database never sees the card in clear, and the record is deleted
/// when spent (PCI DSS 3.2 allows card data before authorisation only, and never the CVV after).
///
/// A saved card (`saved_token_id`) is kept for later charges: its number and expiry — never
/// its CVV — sealed with the vault key (the key in a 0600 file of the state folder) into the
/// ``AccountStore``, bound to its token so that one sealed card cannot be passed off as
/// another's. It is charged as a card on file (no CVV: one-click), or turned into a fresh
/// single-use token when the customer types the CVV again (two-click).
public final class CardVault: Sendable {
    private let tokens: any EphemeralStore
    private let lifetime: TimeInterval
    private let accounts: any AccountStore
    private let key: SealingKey

    public init(lifetime: Duration, accounts: any AccountStore, key: SealingKey, tokens: any EphemeralStore = MemoryEphemeralStore()) {
        self.lifetime = Timestamp.seconds(lifetime)
        self.accounts = accounts
        self.key = key
        self.tokens = tokens
    }

    /// Stores `card` for `merchantID` and returns its token id (`48111111-1114-<uuid>`, the shape
    /// Midtrans' tokens have: the masked card, then a random part).
    public func store(_ card: StoredCard, merchantID: String, now: Date) throws(GatewayError) -> String {
        let id = "\(card.masked)-\(UUID().uuidString.lowercased())"
        let plain = (try? JSONEncoder().encode(card)).map(Array.init) ?? []
        let sealed = key.seal(plain, context: Self.tokenContext(token: id, merchantID: merchantID))
        try storing { try tokens.put(.cardToken, key: id, value: sealed, now: now, expires: now.addingTimeInterval(lifetime)) }
        return id
    }

    /// Takes the card out (a token is used once): nil if the token is unknown, used, expired or
    /// another merchant's — the last without using it up.
    public func take(_ token: String, merchantID: String, now: Date) throws(GatewayError) -> StoredCard? {
        try storing {
            try tokens.update(.cardToken, key: token, now: now, expires: now) { sealed -> StoredCard? in
                // Another merchant's token does not open with this merchant's context: left alone.
                guard let card = sealed.flatMap({ open($0, token: token, merchantID: merchantID) }) else { return nil }
                sealed = nil
                return card
            }
        }
    }

    /// The card behind a token, without using it up (a point inquiry before the charge).
    func peek(_ token: String, merchantID: String, now: Date) throws(GatewayError) -> StoredCard? {
        try storing { try tokens.get(.cardToken, key: token, now: now) }.flatMap { open($0, token: token, merchantID: merchantID) }
    }

    private func open(_ sealed: [UInt8], token: String, merchantID: String) -> StoredCard? {
        guard let plain = try? key.open(sealed, context: Self.tokenContext(token: token, merchantID: merchantID)) else { return nil }
        return try? JSONDecoder().decode(StoredCard.self, from: Data(plain))
    }

    /// What a token's sealed card is bound to (distinct from a saved card's context).
    private static func tokenContext(token: String, merchantID: String) -> [UInt8] {
        Array("token|\(merchantID)|\(token)".utf8)
    }

    /// The card in a `GET /v2/token` query (`card_number`, `card_cvv`, `card_exp_month`,
    /// `card_exp_year`), checked as Midtrans checks it before any token is made.
    static func card(from query: [String: String]) throws(GatewayError) -> StoredCard {
        let number = (query["card_number"] ?? "").filter { $0 != " " }
        var problems: [String] = []
        if !SandboxCards.passesLuhn(number) { problems.append("card_number is not valid") }
        if query["card_cvv"] == nil { problems.append("card_cvv is required") }
        if query["card_exp_month"] == nil || query["card_exp_year"] == nil {
            problems.append("card_exp_month and card_exp_year are required")
        } else if SandboxCards.expiry(month: query["card_exp_month"]!, year: query["card_exp_year"]!) == nil {
            problems.append("card_exp_month must be 01 to 12 and card_exp_year a year such as 2030 or 30")
        }
        guard problems.isEmpty else { throw .validation(problems) }
        return StoredCard(number: number, cvv: query["card_cvv"] ?? "", expiryMonth: query["card_exp_month"] ?? "",
                          expiryYear: query["card_exp_year"] ?? "")
    }

    // MARK: Saved cards

    /// Saves `card` (its CVV dropped) for `merchantID`: the `saved_token_id` — the masked
    /// card's digits (first eight, or six for a short number), 20 random letters and digits,
    /// the last four, as Midtrans' saved tokens look. `active` false: kept, but not usable until
    /// ``activate(_:)`` (a card saved by a charge, until the bank approves).
    func save(_ card: StoredCard, merchantID: String, active: Bool = true) throws(GatewayError) -> SavedCard {
        guard let expiresAt = Self.endOfExpiryMonth(month: card.expiryMonth, year: card.expiryYear) else {
            throw .validation(["card_exp_month must be 01 to 12 and card_exp_year a year such as 2030 or 30"])
        }
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        var generator = SystemRandomNumberGenerator()
        let random = String((0..<20).map { _ in alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))] })
        let masked = card.masked
        let token = "\(masked.prefix { $0 != "-" })\(random)\(masked.suffix(4))"
        let plain = Array("\(card.number)|\(card.expiryMonth)|\(card.expiryYear)".utf8)
        let saved = SavedCard(savedTokenID: token, merchantID: merchantID, maskedCard: masked, expiresAt: expiresAt,
                              sealed: key.seal(plain, context: Self.context(token: token, merchantID: merchantID)), active: active)
        try storing { try accounts.saveCard(saved) }
        return saved
    }

    /// Makes a card saved by a charge usable: the bank approved that charge.
    func activate(_ token: String) throws(GatewayError) {
        _ = try storing { try accounts.activateSavedCard(token: token) }
    }

    /// The merchant's usable saved card `token` — number and expiry, no CVV — while it has not
    /// expired; nil for another merchant's token, an unknown or inactive one, or one that no
    /// longer opens.
    func saved(_ token: String, merchantID: String, now: Date) throws(GatewayError) -> (card: StoredCard, record: SavedCard)? {
        guard let record = try storing({ try accounts.savedCard(token: token) }), record.merchantID == merchantID, record.active,
            let expires = Timestamp.parseMidtrans(record.expiresAt + " +0700"), expires > now,
            let plain = try? key.open(record.sealed, context: Self.context(token: token, merchantID: merchantID))
        else { return nil }
        let parts = String(decoding: plain, as: UTF8.self).split(separator: "|").map(String.init)
        guard parts.count == 3 else { return nil }
        return (StoredCard(number: parts[0], cvv: "", expiryMonth: parts[1], expiryYear: parts[2]), record)
    }

    /// What a sealed card is bound to: its merchant and its token (one merchant's sealed card
    /// does not open as another's, nor as another token's).
    private static func context(token: String, merchantID: String) -> [UInt8] {
        Array("\(merchantID)|\(token)".utf8)
    }

    /// `saved_token_id_expired_at`: the last second of the card's expiry month, UTC+7; nil for
    /// an expiry that is not one.
    static func endOfExpiryMonth(month: String, year: String) -> String? {
        guard let expiry = SandboxCards.expiry(month: month, year: year) else { return nil }
        let (nextYear, nextMonth) = expiry.month == 12 ? (expiry.year + 1, 1) : (expiry.year, expiry.month + 1)
        guard let first = Timestamp.parseMidtrans(String(format: "%04d-%02d-01 00:00:00 +0700", nextYear, nextMonth)) else { return nil }
        return Timestamp.midtrans(first.addingTimeInterval(-1))
    }
}
