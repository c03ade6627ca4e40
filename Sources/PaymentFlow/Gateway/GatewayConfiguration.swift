import Foundation
import TLSWrapper

/// How a gateway is wired and how its clocks run (compress them for demos and tests).
public struct GatewayConfiguration: Sendable {
    /// The bank's base URL (`https://127.0.0.1:9443`).
    public var bankURL: String
    /// The bank as browsers reach it (its simulator pages, a deeplink's redirect); `bankURL`
    /// unless set (a class gateway reaches the bank on loopback, the students' browsers by name).
    public var publicBankURL: String?
    /// The fraud service's base URL; nil: the rules run in-process (``GatewayConfiguration/fraudRules``).
    public var fraudURL: String?
    public var fraudRules = FraudRules()
    /// This gateway's base URL as browsers and SDKs reach it (3-D Secure and Snap pages, QR
    /// actions); ``Gateway/publicURL`` can set it once the port is known.
    public var publicURL: String
    /// The secret the gateway and the bank share: the bank presents it on its payment notices,
    /// the gateway on every call to the bank (`Authorization: Bearer …`).
    public var bankNoticeKey: String
    /// The password of the instructor's class view (`GET /instructor`); nil: no such view.
    public var instructorKey: String?
    /// How long a VA, bill, QR or e-wallet payment waits before it expires (Midtrans: 24 h).
    public var paymentExpiry: Duration = .seconds(24 * 3600)
    /// How long a card charge waits for the 3-D Secure OTP before it expires.
    public var authenticationExpiry: Duration = .seconds(15 * 60)
    /// How long a pre-authorised card (`type: authorize`) waits for its capture before the hold
    /// is released (Midtrans: 7 days).
    public var authorizationExpiry: Duration = .seconds(7 * 24 * 3600)
    /// How long after capture a card payment settles (Midtrans: D+1).
    public var settlementDelay: Duration = .seconds(24 * 3600)
    /// How long an `Idempotency-Key` answer is replayed (Midtrans: 5 minutes).
    public var idempotencyLifetime: Duration = .seconds(300)
    /// How long a card token may be used (single use in any case).
    public var tokenLifetime: Duration = .seconds(600)
    /// How fast a subscription's schedule runs: 1 is real time (calendar months); below 1 the
    /// schedule is compressed (`--fast`: a day lasts a minute).
    public var subscriptionClockScale: Double = 1
    /// The key saved cards are sealed with (``CardVault``): from a 0600 file of the state
    /// folder in ``PaymentSystem``; a fresh random one by default (saved cards then last as long
    /// as the process).
    public var vaultKey = SealingKey.random()
    /// The clock (injected by tests).
    public var now: @Sendable () -> Date = { Date() }

    public init(bankURL: String, publicURL: String, bankNoticeKey: String, fraudURL: String? = nil) {
        self.bankURL = bankURL
        self.publicURL = publicURL
        self.bankNoticeKey = bankNoticeKey
        self.fraudURL = fraudURL
    }
}
