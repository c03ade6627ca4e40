/// The card numbers of Midtrans' sandbox, and what the bank simulator and fraud detection do
/// with each (CVV 123, any future expiry, 3-DS OTP 112233).
public enum SandboxCards {
    public enum Outcome: Hashable, Sendable {
        /// Approved by the bank, accepted by fraud detection.
        case accept
        /// Declined by the issuing bank (ISO 8583 response code 05, "Do not honor").
        case bankDeny
        /// Fraud detection asks the merchant to review (capture with fraud_status challenge).
        case fraudChallenge
        /// Fraud detection rejects it.
        case fraudDeny
        /// Declined for insufficient funds (response code 51) when the amount is above `above`
        /// (zero: any amount).
        case insufficientFunds(above: Rupiah)
        /// A card the issuer does not allow online (response code 57): declined.
        case offlineOnly
    }

    /// The issuing bank (the bank-specific cards of the sandbox page; the general cards are BNI's).
    public enum Issuer: String, Hashable, Sendable, CaseIterable {
        case bni, mandiri, cimb, bca, bri, mega, maybank

        /// The bank's name as the BIN lookup gives it.
        public var name: String {
            switch self {
            case .bni: "BANK NEGARA INDONESIA"
            case .mandiri: "BANK MANDIRI"
            case .cimb: "BANK CIMB NIAGA"
            case .bca: "BANK CENTRAL ASIA"
            case .bri: "BANK RAKYAT INDONESIA"
            case .mega: "BANK MEGA"
            case .maybank: "MAYBANK INDONESIA"
            }
        }
    }

    public struct Card: Hashable, Sendable {
        public let number: String
        public let brand: String
        /// Enrolled in 3-D Secure: the payment waits for the OTP.
        public let threeDSecure: Bool
        public let outcome: Outcome
        public var issuer: Issuer = .bni
        /// A debit card (Mandiri Debit): `card_type` debit.
        public var debit = false
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
        // The bank-specific cards (for installments, promotions, `bins`): 3-D Secure full
        // authentication and attempted authentication, then each bank's declined cards. The
        // BNI Mastercard 5264 2210 3887 4659 is the one the official Python SDK's tests charge.
    ] + bankCards(.mandiri, full: ["4617006959746656", "5573381072196900"], attempted: ["4617001741942101", "5573381999825417"],
                  denied: ["4617008560831760", "5573384043224447"])
      + [
        Card(number: "4097661111111113", brand: "VISA", threeDSecure: true, outcome: .accept, issuer: .mandiri, debit: true),
        Card(number: "4097661111111139", brand: "VISA", threeDSecure: false, outcome: .accept, issuer: .mandiri, debit: true),
        Card(number: "4097667672178631", brand: "VISA", threeDSecure: false, outcome: .bankDeny, issuer: .mandiri, debit: true),
      ]
      + bankCards(.cimb, full: ["4599207887122414", "5481169818832479"], attempted: ["4599203997052898", "5481167121032563"],
                  denied: ["4599206009733090", "5481169191782739"])
      + bankCards(.bni, full: ["4105058689481467", "5264221038874659"], attempted: ["4105052541512148", "5264224971761016"],
                  denied: ["4105054148541363", "5264223530131711"])
      + bankCards(.bca, full: ["4773776057051650", "5229903136853172"], attempted: ["4773773810981190", "5229907364303610"],
                  denied: ["4773775202011809", "5229903405423830"])
      + bankCards(.bri, full: ["4365026335737199", "5520029870899100"], attempted: ["4365027867232690", "5520025486468439"],
                  denied: ["4365028662512583", "5520021909203008"])
      + bankCards(.mega, full: ["4201910000000009", "5221030000000009"], attempted: ["4201910000000017", "5221030000000017"],
                  denied: ["4201910000000025", "5221030000000025"])
      + bankCards(.maybank, full: ["4055772026036004", "5520086752102334"], attempted: ["4055771335144012", "5520086774908452"],
                  denied: ["4055779628460474", "5520088314653770"])
      + [
        // Declined by response code 51 (insufficient funds): any amount, or above Rp 30.000.
        Card(number: "4472429869996670", brand: "VISA", threeDSecure: false, outcome: .insufficientFunds(above: .zero)),
        Card(number: "4806000000000081", brand: "VISA", threeDSecure: false, outcome: .insufficientFunds(above: Rupiah(30_000))),
        // Cards not eligible for online payments.
        Card(number: "4705859510984866", brand: "VISA", threeDSecure: false, outcome: .offlineOnly),
        Card(number: "5597518926561951", brand: "MASTERCARD", threeDSecure: false, outcome: .offlineOnly),
      ]

    /// One bank's row of the sandbox page: a Visa and a Mastercard for each case.
    private static func bankCards(_ issuer: Issuer, full: [String], attempted: [String], denied: [String]) -> [Card] {
        func brand(_ number: String) -> String { number.hasPrefix("4") ? "VISA" : "MASTERCARD" }
        return full.map { Card(number: $0, brand: brand($0), threeDSecure: true, outcome: .accept, issuer: issuer) }
            + attempted.map { Card(number: $0, brand: brand($0), threeDSecure: false, outcome: .accept, issuer: issuer) }
            + denied.map { Card(number: $0, brand: brand($0), threeDSecure: false, outcome: .bankDeny, issuer: issuer) }
    }

    /// The sandbox card with this number (spaces ignored), if it is one.
    public static func card(_ number: String) -> Card? {
        let digits = number.filter { $0 != " " }
        return all.first { $0.number == digits }
    }

    /// The Luhn check every card number passes (ISO/IEC 7812-1).
    public static func passesLuhn(_ number: String) -> Bool {
        let digits = number.filter { $0 != " " }.compactMap(\.wholeNumberValue)
        // ISO/IEC 7812: payment cards have 13 to 19 digits.
        guard (13...19).contains(digits.count), digits.count == number.filter({ $0 != " " }).count else { return false }
        var sum = 0
        for (i, digit) in digits.reversed().enumerated() {
            let value = i % 2 == 1 ? digit * 2 : digit
            sum += value > 9 ? value - 9 : value
        }
        return sum % 10 == 0
    }

    /// `48111111-1114`: how Midtrans shows a card — the first eight digits (the 8-digit BINs of
    /// ISO/IEC 7812-1:2017, which Midtrans moved to) and the last four.
    /// Shorter numbers show the first six only: PCI DSS lets no more than six and four be seen.
    public static func masked(_ number: String) -> String {
        let digits = number.filter { $0 != " " }
        guard digits.count >= 13 else { return "****" }
        return "\(digits.prefix(digits.count >= 16 ? 8 : 6))-\(digits.suffix(4))"
    }

    /// A card's expiry as typed (`MM`, `YY` or `YYYY`): the month and the full year, if it is one.
    public static func expiry(month: String, year: String) -> (month: Int, year: Int)? {
        guard (1...2).contains(month.count), [2, 4].contains(year.count), month.allSatisfy(\.isASCII), year.allSatisfy(\.isASCII),
            let m = Int(month), (1...12).contains(m), let y = Int(year)
        else { return nil }
        let full = y < 100 ? 2000 + y : y
        return (2000...2199).contains(full) ? (m, full) : nil
    }
}
