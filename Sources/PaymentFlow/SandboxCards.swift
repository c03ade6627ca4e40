/// The card numbers of Midtrans' sandbox, and what the bank simulator and fraud detection do
/// with each (CVV 123, any future expiry, 3-DS OTP 112233).
public enum SandboxCards {
    public enum Outcome: String, Hashable, Sendable {
        /// Approved by the bank, accepted by fraud detection.
        case accept
        /// Declined by the issuing bank.
        case bankDeny
        /// Fraud detection asks the merchant to review (capture with fraud_status challenge).
        case fraudChallenge
        /// Fraud detection rejects it.
        case fraudDeny
    }

    public struct Card: Hashable, Sendable {
        public let number: String
        public let brand: String
        /// Enrolled in 3-D Secure: the payment waits for the OTP.
        public let threeDSecure: Bool
        public let outcome: Outcome
        /// BNI reward points the card holds, in rupiah (`GET /v2/point_inquiry`); nil: none.
        public var rewardPoints: Rupiah? = nil
    }

    public static let otp = "112233"
    public static let cvv = "123"

    public static let all: [Card] = [
        Card(number: "4811111111111114", brand: "VISA", threeDSecure: true, outcome: .accept, rewardPoints: Rupiah(15_000)),
        Card(number: "4911111111111113", brand: "VISA", threeDSecure: true, outcome: .bankDeny),
        Card(number: "4411111111111118", brand: "VISA", threeDSecure: false, outcome: .accept, rewardPoints: Rupiah(2_500)),
        Card(number: "4511111111111117", brand: "VISA", threeDSecure: false, outcome: .fraudChallenge),
        Card(number: "4611111111111116", brand: "VISA", threeDSecure: false, outcome: .fraudDeny),
        Card(number: "4711111111111115", brand: "VISA", threeDSecure: false, outcome: .bankDeny),
        Card(number: "5211111111111117", brand: "MASTERCARD", threeDSecure: true, outcome: .accept),
        Card(number: "5111111111111118", brand: "MASTERCARD", threeDSecure: true, outcome: .bankDeny),
        Card(number: "5410111111111116", brand: "MASTERCARD", threeDSecure: false, outcome: .accept),
        Card(number: "5510111111111115", brand: "MASTERCARD", threeDSecure: false, outcome: .fraudChallenge),
        Card(number: "5411111111111115", brand: "MASTERCARD", threeDSecure: false, outcome: .fraudDeny),
        Card(number: "5511111111111114", brand: "MASTERCARD", threeDSecure: false, outcome: .bankDeny),
        Card(number: "3528203324564357", brand: "JCB", threeDSecure: true, outcome: .accept),
        Card(number: "3528512944932269", brand: "JCB", threeDSecure: true, outcome: .bankDeny),
        Card(number: "3528868047864225", brand: "JCB", threeDSecure: false, outcome: .accept),
        Card(number: "3528673112809398", brand: "JCB", threeDSecure: false, outcome: .fraudChallenge),
        Card(number: "3528185267171623", brand: "JCB", threeDSecure: false, outcome: .fraudDeny),
        Card(number: "3528909779837631", brand: "JCB", threeDSecure: false, outcome: .bankDeny),
        Card(number: "370192169722458", brand: "AMEX", threeDSecure: true, outcome: .accept),
        Card(number: "374296354400881", brand: "AMEX", threeDSecure: true, outcome: .bankDeny),
        Card(number: "373747726661940", brand: "AMEX", threeDSecure: false, outcome: .accept),
        Card(number: "370665684049309", brand: "AMEX", threeDSecure: false, outcome: .fraudChallenge),
        Card(number: "378096218340018", brand: "AMEX", threeDSecure: false, outcome: .fraudDeny),
        Card(number: "370356097975856", brand: "AMEX", threeDSecure: false, outcome: .bankDeny),
        // A BNI card the official Python SDK's tests charge (no 3-D Secure there).
        Card(number: "5264221038874659", brand: "MASTERCARD", threeDSecure: false, outcome: .accept),
    ]

    /// The sandbox card with this number (spaces ignored), if it is one.
    public static func card(_ number: String) -> Card? {
        let digits = number.filter { $0 != " " }
        return all.first { $0.number == digits }
    }

    /// The Luhn check every card number passes (ISO/IEC 7812-1).
    public static func passesLuhn(_ number: String) -> Bool {
        let digits = number.filter { $0 != " " }.compactMap(\.wholeNumberValue)
        guard digits.count >= 12, digits.count == number.filter({ $0 != " " }).count else { return false }
        var sum = 0
        for (i, digit) in digits.reversed().enumerated() {
            let value = i % 2 == 1 ? digit * 2 : digit
            sum += value > 9 ? value - 9 : value
        }
        return sum % 10 == 0
    }

    /// `48111111-1114`: how Midtrans shows a card — the first eight digits (the 8-digit BINs of
    /// ISO/IEC 7812-1:2017, which Midtrans moved to) and the last four.
    public static func masked(_ number: String) -> String {
        let digits = number.filter { $0 != " " }
        guard digits.count >= 10 else { return "****" }
        return "\(digits.prefix(8))-\(digits.suffix(4))"
    }
}
