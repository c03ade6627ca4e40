import Foundation
import Synchronization

/// Card tokens: what `GET /v2/token` hands the browser instead of the card.
///
/// A token stands for a ``StoredCard`` held in this process's memory only: a token carries the
/// card number and CVV, which a gateway must never write to disk (PCI DSS 3.2). A token is
/// single use, expires, and only the merchant it was made for can spend it (another merchant
/// cannot burn it). A restart forgets them all: the payment page simply makes new ones.
public final class CardVault: Sendable {
    private struct Entry {
        var card: StoredCard
        var merchantID: String
        var expires: Date
    }

    private let entries = Mutex<[String: Entry]>([:])
    private let lifetime: TimeInterval

    public init(lifetime: Duration) {
        self.lifetime = Double(lifetime.components.seconds) + Double(lifetime.components.attoseconds) / 1e18
    }

    /// Stores `card` for `merchantID` and returns its token id (`481111-1114-<uuid>`, the shape
    /// Midtrans' tokens have: the masked card, then a random part).
    public func store(_ card: StoredCard, merchantID: String, now: Date) -> String {
        let id = "\(card.masked)-\(UUID().uuidString.lowercased())"
        entries.withLock { entries in
            entries = entries.filter { $0.value.expires > now }  // forget stale ones as we go
            entries[id] = Entry(card: card, merchantID: merchantID, expires: now.addingTimeInterval(lifetime))
        }
        return id
    }

    /// Takes the card out (a token is used once): nil if the token is unknown, used, expired or
    /// another merchant's — the last without using it up.
    public func take(_ token: String, merchantID: String, now: Date) -> StoredCard? {
        entries.withLock { entries -> StoredCard? in
            guard let entry = entries[token], entry.merchantID == merchantID else { return nil }
            entries[token] = nil
            return entry.expires > now ? entry.card : nil
        }
    }

    /// The card in a `GET /v2/token` query (`card_number`, `card_cvv`, `card_exp_month`,
    /// `card_exp_year`), checked as Midtrans checks it before any token is made.
    static func card(from query: [String: String]) throws(GatewayError) -> StoredCard {
        let number = (query["card_number"] ?? "").filter { $0 != " " }
        var problems: [String] = []
        if !SandboxCards.passesLuhn(number) { problems.append("card_number is not valid") }
        if query["card_cvv"] == nil { problems.append("card_cvv is required") }
        if query["card_exp_month"] == nil || query["card_exp_year"] == nil { problems.append("card_exp_month and card_exp_year are required") }
        guard problems.isEmpty else { throw .validation(problems) }
        return StoredCard(number: number, cvv: query["card_cvv"] ?? "", expiryMonth: query["card_exp_month"] ?? "",
                          expiryYear: query["card_exp_year"] ?? "")
    }
}
