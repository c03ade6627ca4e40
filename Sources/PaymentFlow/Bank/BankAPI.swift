/// The bank's wire shapes: what the gateway (and the customer at the ATM) send the bank
/// simulator, and what it answers. JSON with snake_case names; amounts are whole rupiah as JSON
/// integers (``Rupiah`` is `Codable` as one). Midtrans' `"85000.00"` strings belong to the
/// gateway's public API only; inside the system money is an integer on every hop.
///
/// The bank (``Bank``) serves these; the gateway's ``BankClient`` sends them. One definition, so
/// the two sides cannot drift apart.
public enum BankAPI {
    /// `POST /cards/authorize`: take `amount` from this card for the gateway's `reference`.
    public struct CardAuthorization: Codable, Sendable, Equatable {
        public var card_number: String
        public var cvv: String
        public var expiry_month: String
        public var expiry_year: String
        public var amount: Rupiah
        /// The gateway's transaction id: every later call about this money names it.
        public var reference: String
        /// The merchant asked for 3-D Secure (`credit_card.authentication`): a card enrolled in it
        /// waits for the holder's OTP; one that is not is approved as an *attempted*
        /// authentication. Absent or false: no 3-D Secure.
        public var authentication: Bool?
        /// A saved card charged by the merchant (one-click, a subscription): the card on file
        /// has no CVV to present.
        public var card_on_file: Bool?

        public init(card: StoredCard, amount: Rupiah, reference: String, authentication: Bool = false, cardOnFile: Bool = false) {
            card_on_file = cardOnFile ? true : nil
            card_number = card.number
            cvv = card.cvv
            expiry_month = card.expiryMonth
            expiry_year = card.expiryYear
            self.amount = amount
            self.reference = reference
            self.authentication = authentication
        }
    }

    /// What the bank decided about a card.
    public enum AuthorizationResult: String, Codable, Sendable {
        /// The money is held for the reference.
        case approved
        /// The card holder must enter an OTP first (3-D Secure); nothing is held yet.
        case authenticationRequired = "authentication_required"
        /// Declined (a reason in `message`).
        case denied
    }

    /// The answer to ``CardAuthorization`` and to ``OTPSubmission``.
    public struct AuthorizationAnswer: Codable, Sendable, Equatable {
        public var result: AuthorizationResult
        public var approval_code: String?
        public var authentication_id: String?
        public var message: String
        /// The e-commerce indicator of an approval: `05` the holder authenticated (3-D Secure
        /// with the OTP), `06` authentication attempted (the card is not enrolled), `07` none.
        public var eci: String?
        /// The issuer's ISO 8583 response code for a decline (`05`, `51`, `57`), when it gave one.
        public var response_code: String?

        public init(result: AuthorizationResult, approval_code: String? = nil, authentication_id: String? = nil, message: String,
                    eci: String? = nil, response_code: String? = nil) {
            self.response_code = response_code
            self.result = result
            self.approval_code = approval_code
            self.authentication_id = authentication_id
            self.message = message
            self.eci = eci
        }
    }

    /// `POST /cards/points`: the reward points of a card (BNI's, for `GET /v2/point_inquiry`).
    public struct PointInquiry: Codable, Sendable, Equatable {
        public var card_number: String
        public var expiry_month: String
        public var expiry_year: String

        public init(card: StoredCard) {
            card_number = card.number
            expiry_month = card.expiryMonth
            expiry_year = card.expiryYear
        }
    }

    /// The answer to ``PointInquiry``: points worth `point_balance` rupiah.
    public struct PointBalance: Codable, Sendable, Equatable {
        public var point_balance: Rupiah
        public init(point_balance: Rupiah) { self.point_balance = point_balance }
    }

    /// `POST /wallets/link`: may this wallet be linked to a merchant's account (no `pin`), or
    /// link it — the customer approved with their PIN.
    public struct WalletLink: Codable, Sendable, Equatable {
        /// The country code and phone number (`6281234567891`).
        public var wallet: String
        public var phone_number: String
        public var pin: String?
        public init(wallet: String, phone_number: String, pin: String? = nil) {
            self.wallet = wallet
            self.phone_number = phone_number
            self.pin = pin
        }
    }

    /// The answer to ``WalletLink``: the token the linked account pays with, when linked.
    public struct WalletLinked: Codable, Sendable, Equatable {
        public var result: SandboxWallets.Link
        public var token: String?
        public init(result: SandboxWallets.Link, token: String? = nil) {
            self.result = result
            self.token = token
        }
    }

    /// `POST /wallets/pay`: a linked wallet pays an account (no PIN below the threshold, or the
    /// customer typed it).
    public struct WalletPayment: Codable, Sendable, Equatable {
        public var token: String
        public var va_number: String
        /// The customer's PIN: required from ``SandboxWallets/pinThreshold`` up.
        public var pin: String?
        /// A merchant-initiated charge the customer allowed when linking (a subscription): no PIN.
        public var recurring: Bool?
        public init(token: String, va_number: String, pin: String? = nil, recurring: Bool = false) {
            self.token = token
            self.va_number = va_number
            self.pin = pin
            self.recurring = recurring ? true : nil
        }
    }

    /// `POST /wallets/balance`: which wallet (by its link token, kept out of URLs and logs).
    public struct WalletToken: Codable, Sendable, Equatable {
        public var token: String
        public init(token: String) { self.token = token }
    }

    /// The answer to ``WalletToken``.
    public struct WalletBalance: Codable, Sendable, Equatable {
        public var balance: Rupiah
        public init(balance: Rupiah) { self.balance = balance }
    }

    /// `POST /3ds/{authentication_id}`: the OTP the card holder typed.
    public struct OTPSubmission: Codable, Sendable, Equatable {
        public var otp: String
        public init(otp: String) { self.otp = otp }
    }

    /// `POST /va`: open an account (VA, bill key, QR or e-wallet code) that takes exactly `amount`.
    public struct OpenAccount: Codable, Sendable, Equatable {
        /// `bca`, `bni`, `bri`, `permata`, `mandiri`, `gopay`, `qris`, …
        public var bank: String
        public var amount: Rupiah
        public var reference: String
        /// The number the merchant asked for (a custom `va_number`): given if no account ever
        /// had it, else the bank picks one, as Midtrans does.
        public var number: String?
        /// What the customer is shown with the account (BCA's ATM text, a shop's message).
        public var note: [String]?

        public init(bank: String, amount: Rupiah, reference: String, number: String? = nil, note: [String]? = nil) {
            self.bank = bank
            self.amount = amount
            self.reference = reference
            self.number = number
            self.note = note
        }
    }

    /// An account as the bank keeps it (`POST /va`, `GET /va/{number}`, `POST /va/{number}/pay`).
    public struct VirtualAccount: Codable, Sendable, Equatable {
        public var va_number: String
        public var bank: String
        public var amount: Rupiah
        public var reference: String
        public var paid: Bool
        /// Closed by the gateway (cancelled, expired, reversed): it takes no money.
        public var closed: Bool
        /// Paid, then the payment was given back to the customer (a late payment for a dead order).
        public var returned: Bool
        /// What the customer is shown with the account, if the merchant gave anything.
        public var note: [String]?

        public init(va_number: String, bank: String, amount: Rupiah, reference: String, paid: Bool = false, closed: Bool = false,
                    returned: Bool = false, note: [String]? = nil) {
            self.note = note
            self.va_number = va_number
            self.bank = bank
            self.amount = amount
            self.reference = reference
            self.paid = paid
            self.closed = closed
            self.returned = returned
        }
    }

    /// `POST /references/{reference}/reverse` answers this: whether anything was undone, and how
    /// much money went back to the customer.
    public struct Reversal: Codable, Sendable, Equatable {
        public var reference: String
        public var reversed: Bool
        public var returned: Rupiah

        public init(reference: String, reversed: Bool, returned: Rupiah) {
            self.reference = reference
            self.reversed = reversed
            self.returned = returned
        }
    }

    /// `POST /references/{reference}/refund`: give `amount` of a payment back. The same
    /// `refund_key` twice refunds once (the second answers the first's result).
    public struct Refund: Codable, Sendable, Equatable {
        public var amount: Rupiah
        public var refund_key: String

        public init(amount: Rupiah, refund_key: String) {
            self.amount = amount
            self.refund_key = refund_key
        }
    }

    /// What the bank holds for a reference (`GET /references/{reference}`; also the answer to a
    /// ``Refund``): the money taken, minus refunds and reversals.
    public struct Holding: Codable, Sendable, Equatable {
        public var reference: String
        public var held: Rupiah

        public init(reference: String, held: Rupiah) {
            self.reference = reference
            self.held = held
        }
    }

    /// The bank's notice to the gateway (`POST {gateway}/bank/v1/payments`): an account was paid.
    public struct PaymentNotice: Codable, Sendable, Equatable {
        public var reference: String
        public var amount: Rupiah
        public var channel: String

        public init(reference: String, amount: Rupiah, channel: String) {
            self.reference = reference
            self.amount = amount
            self.channel = channel
        }
    }

    /// `POST /faults`: failure drills.
    public struct Faults: Codable, Sendable, Equatable {
        /// Wait before deciding.
        public var latency_ms: Int
        /// Answer this status instead of deciding.
        public var failure_status: Int?
        /// Decide (the money moves), then wait this long before answering: the caller's outcome
        /// is "in doubt" meanwhile — the case a gateway must recover from after a crash.
        public var answer_latency_ms: Int?

        public init(latency_ms: Int = 0, failure_status: Int? = nil, answer_latency_ms: Int? = nil) {
            self.latency_ms = latency_ms
            self.failure_status = failure_status
            self.answer_latency_ms = answer_latency_ms
        }
    }
}
