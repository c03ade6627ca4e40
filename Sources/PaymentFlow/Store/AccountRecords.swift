import Foundation

// The records of an ``AccountStore``: what customers leave with the gateway for later.

/// A card kept for later charges: what a `saved_token_id` stands for (`GET /v2/card/register`,
/// or a charge with `save_token_id`). The number and expiry are sealed with the gateway's vault
/// key (``CardVault``), bound to the token; the CVV is never kept (PCI DSS 3.2).
public struct SavedCard: Sendable, Equatable {
    public var savedTokenID: String
    public var merchantID: String
    /// `48111111-1114`.
    public var maskedCard: String
    /// `saved_token_id_expired_at` (`YYYY-MM-DD HH:MM:SS`, UTC+7): the end of the card's expiry month.
    public var expiresAt: String
    /// `number|month|year`, sealed (AES-256-GCM) with the merchant and the token as context.
    public var sealed: [UInt8]
    /// Usable: registered (`GET /v2/card/register`), or saved by a charge the bank approved. A
    /// card saved by a charge (`save_token_id`) waits inactive until then.
    public var active: Bool

    public init(savedTokenID: String, merchantID: String, maskedCard: String, expiresAt: String, sealed: [UInt8], active: Bool = true) {
        self.active = active
        self.savedTokenID = savedTokenID
        self.merchantID = merchantID
        self.maskedCard = maskedCard
        self.expiresAt = expiresAt
        self.sealed = sealed
    }
}

/// A GoPay account linked to a merchant (GoPay tokenization: `POST /v2/pay/account`). It is
/// `PENDING` until the customer approves the link in the app (here: the bank simulator's
/// wallet page), then `ENABLED` with a payment option token the merchant charges with.
public struct PayAccount: Codable, Sendable, Equatable {
    /// `account_status`.
    public enum Status: String, Codable, Sendable {
        case pending = "PENDING"
        case enabled = "ENABLED"
        case disabled = "DISABLED"
        case expired = "EXPIRED"
    }

    public var accountID: String
    public var merchantID: String
    /// `gopay_partner.phone_number` and `.country_code`: the wallet at the bank.
    public var phoneNumber: String
    public var countryCode: String
    /// Where the app sends the customer once the link is approved.
    public var redirectURL: String?
    public var status: Status
    /// When the link was asked for (milliseconds): a link not approved in time expires.
    public var createdAt: Int64
    /// `payment_option_token` of the `GOPAY_WALLET` option, once enabled.
    public var walletToken: String?

    public init(accountID: String, merchantID: String, phoneNumber: String, countryCode: String, redirectURL: String?, status: Status,
                createdAt: Int64, walletToken: String? = nil) {
        self.accountID = accountID
        self.merchantID = merchantID
        self.phoneNumber = phoneNumber
        self.countryCode = countryCode
        self.redirectURL = redirectURL
        self.status = status
        self.createdAt = createdAt
        self.walletToken = walletToken
    }

    /// The wallet's name at the bank (`62` + the phone number).
    public var walletNumber: String { countryCode + phoneNumber }
}

/// A subscription (`POST /v1/subscriptions`): a saved card or a linked GoPay account charged
/// `amount` every `interval` × `intervalUnit` by the gateway's timers, with retries.
public struct Subscription: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable {
        case active, inactive
    }

    /// `schedule.interval_unit` (and `retry_schedule.interval_unit`, which has minute and hour).
    public enum Unit: String, Codable, Sendable {
        case minute, hour, day, week, month
    }

    public var id: String
    public var merchantID: String
    public var name: String
    public var amount: Rupiah
    public var paymentType: PaymentType
    /// The `saved_token_id` (cards) or the `payment_option_token` (GoPay).
    public var token: String
    /// `gopay.account_id`.
    public var gopayAccountID: String?
    public var interval: Int
    public var unit: Unit
    /// `max_interval`: how many charges in all; nil: until disabled.
    public var maxInterval: Int?
    /// Charges made so far (`current_interval`).
    public var currentInterval: Int = 0
    public var startTime: Int64
    public var nextExecutionAt: Int64
    public var previousExecutionAt: Int64?
    /// `retry_schedule`: how long after a failed charge to try again, and how many times.
    public var retryInterval: Int = 1
    public var retryUnit: Unit = .hour
    public var retryMax: Int = 3
    /// Failed tries of the current charge.
    public var retries: Int = 0
    public var status: Status = .active
    public var createdAt: Int64
    /// `metadata` and `customer_details`, as JSON text.
    public var metadata: String?
    public var customerDetails: String?
    /// Transactions this subscription made that the bank approved or paid (`transaction_ids`).
    public var transactionIDs: [String] = []

    public init(id: String, merchantID: String, name: String, amount: Rupiah, paymentType: PaymentType, token: String, interval: Int,
                unit: Unit, startTime: Int64, createdAt: Int64) {
        self.id = id
        self.merchantID = merchantID
        self.name = name
        self.amount = amount
        self.paymentType = paymentType
        self.token = token
        self.interval = interval
        self.unit = unit
        self.startTime = startTime
        self.nextExecutionAt = startTime
        self.createdAt = createdAt
    }
}

/// A payment link (`POST /v1/payment-links`): a page the merchant shares, where customers pay
/// a fixed order — each payment a transaction of its own (`<order_id>-<milliseconds>`), up to
/// `usageLimit` of them, until it expires or is deleted.
public struct PaymentLink: Codable, Sendable, Equatable {
    /// One payment made through the link.
    public struct Purchase: Codable, Sendable, Equatable {
        public var orderID: String
        public var transactionID: String
        public var createdAt: Int64
        /// Its use was given back: the payment ended without money (denied, cancelled, expired).
        public var released = false
    }

    /// `payment_link_id`: the page's address (`[a-z0-9-]`).
    public var id: String
    public var merchantID: String
    public var orderID: String
    public var grossAmount: Rupiah
    public var title: String?
    public var usageLimit: Int
    /// Uses taken: payments made or waiting to be paid, and payments being made right now (a
    /// payment that ends without money gives its use back).
    public var usage: Int = 0
    /// When the link stops taking payments (milliseconds); nil: never.
    public var expiresAt: Int64?
    /// `enabled_payments` as given (nil: every method).
    public var enabledPayments: [String]?
    /// The order's `item_details`, `customer_details`, `custom_field1..3` and `callbacks`, as
    /// the creating request sent them (JSON text): the page's charges take them from here.
    public var order: String
    public var createdAt: Int64
    public var deleted = false
    public var purchases: [Purchase] = []
    /// The millisecond stamp of the last purchase's order id (each later one is larger: two
    /// payments in one millisecond still get two order ids).
    public var lastStamp: Int64 = 0

    public init(id: String, merchantID: String, orderID: String, grossAmount: Rupiah, usageLimit: Int, order: String, createdAt: Int64) {
        self.id = id
        self.merchantID = merchantID
        self.orderID = orderID
        self.grossAmount = grossAmount
        self.usageLimit = usageLimit
        self.order = order
        self.createdAt = createdAt
    }
}
