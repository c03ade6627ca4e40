import Foundation
import NetLab
import TCPSocket
import TLSWrapper

/// What the payment service tells fraud detection about a card charge. The card number itself
/// never leaves the payment service: fraud sees its first eight and last four digits and a
/// fingerprint (SHA-512 of the number), enough to recognise the same card again.
public struct FraudCheck: Codable, Sendable, Equatable {
    public var merchant_id: String
    public var order_id: String
    public var payment_type: PaymentType
    public var gross_amount: Rupiah
    public var masked_card: String?
    public var card_fingerprint: String?

    public init(merchantID: String, orderID: String, paymentType: PaymentType, grossAmount: Rupiah, card: StoredCard?) {
        merchant_id = merchantID
        order_id = orderID
        payment_type = paymentType
        gross_amount = grossAmount
        masked_card = card?.masked
        card_fingerprint = card.map { Digest.sha512Hex("netlab-card:" + $0.number) }
    }
}

/// The verdict: `fraud_status` and the rules that decided it (for the demo and the logs).
public struct FraudVerdict: Codable, Sendable, Equatable {
    public var fraud_status: FraudStatus
    public var reasons: [String]
}

/// The rules of fraud detection, small enough to read and change in a lab.
///
/// Checked in order; the first `deny` wins, else any `challenge`, else `accept`:
/// 1. Midtrans' sandbox cards keep their documented outcome (challenge / deny cards). Always on.
/// 2. Amount (a lab rule, off unless set): at or above ``challengeAmount`` → challenge (a human
///    looks at big payments).
/// 3. Velocity (a lab rule, off unless set): more than ``velocityLimit`` charges with one card
///    within ``velocityWindow`` → deny (card testing: a stolen number tried again and again).
///
/// The default is the sandbox's behaviour — only the test cards decide — so a merchant's code
/// sees what it would see at Midtrans. ``lab`` switches both extra rules on for the lesson on
/// fraud detection (`netlab serve --fraud-rules lab`, or one at a time with
/// `--challenge-amount` and `--velocity-limit`).
public struct FraudRules: Sendable {
    /// Challenge payments of at least this much; nil: no amount rule.
    public var challengeAmount: Rupiah?
    /// Deny a card's charge past this many within ``velocityWindow``; nil: no velocity rule.
    public var velocityLimit: Int?
    public var velocityWindow: Duration = .seconds(60)

    /// The sandbox's rules: only the test cards decide.
    public init() {}

    /// Both lab rules on: challenge from Rp 50.000.000, deny a sixth charge of one card within a minute.
    public static var lab: FraudRules {
        var rules = FraudRules()
        rules.challengeAmount = Rupiah(50_000_000)
        rules.velocityLimit = 5
        return rules
    }
}

/// The fraud-detection service: `POST /v1/assess` with a ``FraudCheck`` → a ``FraudVerdict``.
/// Its memory (recent charges per card, for the velocity rule) lives in the process.
public final class FraudService: Sendable {
    public let rules: FraudRules
    private let recent = Locked<[String: [ContinuousClock.Instant]]>([:])
    private let clock: @Sendable () -> ContinuousClock.Instant

    private let observer: PaymentObserver?

    public init(rules: FraudRules = FraudRules(), clock: @escaping @Sendable () -> ContinuousClock.Instant = { .now },
                observer: PaymentObserver? = nil) {
        self.rules = rules
        self.clock = clock
        self.observer = observer
    }

    public var router: Router {
        var router = Router()
        router.post("/v1/assess") { [self] request in
            let check: FraudCheck = try request.decodeJSON()
            let verdict = assess(check)
            observer?(.fraudVerdict(orderID: check.order_id, verdict: verdict.fraud_status, reasons: verdict.reasons))
            return try .json(verdict)
        }
        return router
    }

    public func assess(_ check: FraudCheck) -> FraudVerdict {
        var deny: [String] = []
        var challenge: [String] = []
        if let masked = check.masked_card,
            let card = SandboxCards.all.first(where: { SandboxCards.masked($0.number) == masked })
        {
            if card.outcome == .fraudDeny { deny.append("sandbox card \(masked) is a fraud-deny test card") }
            if card.outcome == .fraudChallenge { challenge.append("sandbox card \(masked) is a fraud-challenge test card") }
        }
        if let threshold = rules.challengeAmount, check.gross_amount >= threshold {
            challenge.append("amount \(check.gross_amount) is at or above \(threshold)")
        }
        if let limit = rules.velocityLimit, let fingerprint = check.card_fingerprint {
            let now = clock()
            let count = recent.withLock { recent -> Int in
                var times = (recent[fingerprint] ?? []).filter { now - $0 < rules.velocityWindow }
                times.append(now)
                recent[fingerprint] = times
                return times.count
            }
            if count > limit {
                deny.append("\(count) charges with one card within \(rules.velocityWindow) (limit \(limit))")
            }
        }
        if !deny.isEmpty { return FraudVerdict(fraud_status: .deny, reasons: deny) }
        if !challenge.isEmpty { return FraudVerdict(fraud_status: .challenge, reasons: challenge) }
        return FraudVerdict(fraud_status: .accept, reasons: [])
    }
}
