/// An amount of Indonesian rupiah, exact: a whole number of rupiah (the currency has no minor
/// unit in practice), never a `Double`.
///
/// Midtrans writes amounts as strings: requests send `gross_amount` as an integer (`10000`),
/// responses and notifications as `"10000.00"` — and the webhook signature uses that exact
/// two-decimal text, so ``gatewayText`` is what gets signed.
public struct Rupiah: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let amount: Int64

    public init(_ amount: Int64) {
        self.amount = amount
    }

    /// Parses `"10000"`, `"10000.00"` or `"10000.0"`; refuses signs, fractions of a rupiah,
    /// separators and anything that does not fit.
    public init?(parsing text: String) {
        var whole = Substring(text)
        if let dot = text.firstIndex(of: ".") {
            let fraction = text[text.index(after: dot)...]
            guard !fraction.isEmpty, fraction.count <= 2, fraction.allSatisfy({ $0 == "0" }) else { return nil }
            whole = text[..<dot]
        }
        // Digits only, and no leading zero (`"0010000"` is no amount anyone wrote on purpose).
        guard !whole.isEmpty, whole.utf8.allSatisfy({ (48...57).contains($0) }), whole == "0" || whole.first != "0",
            let value = Int64(whole)
        else { return nil }
        amount = value
    }

    /// `"10000.00"`: how the gateway writes amounts in responses, notifications and signatures.
    public var gatewayText: String { "\(amount).00" }

    public var description: String { "Rp \(amount)" }

    /// `"Rp 85.000"`: the amount as an Indonesian reads it, a dot between thousands (for pages).
    public var displayText: String {
        var digits = String(amount.magnitude)
        var groups: [Substring] = []
        while digits.count > 3 {
            groups.insert(Substring(digits.suffix(3)), at: 0)
            digits.removeLast(3)
        }
        return (amount < 0 ? "Rp -" : "Rp ") + ([Substring(digits)] + groups).joined(separator: ".")
    }

    public static func < (a: Rupiah, b: Rupiah) -> Bool { a.amount < b.amount }

    public static func + (a: Rupiah, b: Rupiah) -> Rupiah { Rupiah(a.amount + b.amount) }
    public static func - (a: Rupiah, b: Rupiah) -> Rupiah { Rupiah(a.amount - b.amount) }
    public static let zero = Rupiah(0)
}

/// On the system's internal hops (the bank's API, fraud checks) money is a JSON integer of
/// whole rupiah: `{"amount": 85000}`. Only the gateway's Midtrans API writes `"85000.00"`.
extension Rupiah: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let value = try container.decode(Int64.self)
        guard value >= 0 else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "an amount of rupiah is never negative")
        }
        amount = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(amount)
    }
}
