import Foundation
import HTTPParser
import NetLab

/// Every way a request to the gateway fails: one case per rule broken, carrying what the
/// merchant needs to fix it. ``Gateway/errorResponse(_:for:)`` is the one path from an error to
/// an answer, in the shape of the API the request was for (Core API JSON, Snap JSON, or a page).
public enum GatewayError: Error, Equatable, Sendable {
    /// No merchant has this server key (or client key, for token and page routes): 401.
    case unknownMerchant
    /// No transaction with this id or order id for this merchant: 404.
    case transactionNotFound
    /// No route here: 404.
    case routeNotFound
    /// The body is not the JSON the route takes: 400.
    case malformedBody(String)
    /// A charge whose body is not a JSON object (`null`, say): Midtrans answers this with 500
    /// "An unexpected error occurred", and the official SDKs' tests pin it, so NetLab does too.
    case chargeBodyNotAnObject
    /// Fields break Midtrans' rules; each message names the field: 400 with `validation_messages`.
    case validation([String])
    /// The order id is taken by a transaction that is not cancelled, expired, denied or failed: 406.
    case duplicateOrderID
    /// The card token is unknown, used already, expired or another merchant's: 411.
    case invalidToken
    /// The move is not in the transaction's graph from where it is now: 412.
    case illegalTransition(from: TransactionStatus)
    /// More refunded than what is left: 414.
    case refundOverBalance(requested: Rupiah, remaining: Rupiah)
    /// The `refund_key` was used for another refund amount: 412 (Midtrans rejects a reused key).
    case refundKeyReused(String)
    /// The `Idempotency-Key`'s first request is still running: HTTP 200 with body code 202.
    case idempotencyKeyRunning
    /// The `Idempotency-Key` was first used for another request: 409.
    case idempotencyKeyReused
    /// The charge lost a race: the transaction was cancelled or expired while the bank was
    /// deciding; whatever the bank did is being reversed: 412.
    case chargeSuperseded(TransactionStatus)
    /// The bank's answer never came; the charge was abandoned and is being reversed: 502.
    case chargeInDoubt
    /// Fraud detection did not answer: 504.
    case fraudUnavailable
    /// No card starts with these digits: 404.
    case binNotFound
    /// A point inquiry for a card that collects no reward points (BNI's do): 402.
    case pointsUnavailable
    /// The bank did not answer a call that moves no money (a point inquiry): 503.
    case bankUnavailable
    /// No linked GoPay account with this id for this merchant (or its approval page is over): 404.
    case payAccountNotFound
    /// The linked account is not in a state that allows this (unbinding a pending account,
    /// charging one not enabled): 412.
    case payAccountStatus
    /// `/v1/subscriptions` with a body that is not a JSON object: 400 "Bad request".
    case subscriptionBadRequest
    /// A subscription's fields break the rules: 400 "Invalid parameter." with `validation_messages`.
    case subscriptionValidation([String])
    /// No subscription with this id for this merchant: 404.
    case subscriptionNotFound
    /// A payment link for this order id exists already: 409, with Midtrans' message.
    case paymentLinkTaken(String)
    /// No payment link with this id or order id (deleted, expired): 404.
    case paymentLinkNotFound
    /// Every use of the payment link is taken: 410.
    case paymentLinkUsedUp
    /// A page's form posted from another site: 403.
    case crossSitePost
    /// Too many Snap pages are open: 503, try again later.
    case tooManySessions
    /// A Snap page's payment was made already (or is being made): 406, "transaction has been
    /// processed" (what Midtrans' Snap says).
    case snapTransactionProcessed
    /// A Snap token that is unknown or expired: 404.
    case snapTokenNotFound
    /// A bank's payment notice without the bank's key: 401.
    case unknownBank
    /// The request was refused at the HTTP layer (a parse error, 405, 408, 413, a body that is
    /// not the JSON the route decodes): that status, in the API's shape.
    case protocolError(status: Int, message: String)
    /// An answer the gateway cannot give (a store failure): 500, details only in the log.
    case internalFailure(String)

    /// The HTTP status, which is also Midtrans' `status_code`.
    public var status: Int {
        switch self {
        case .unknownMerchant, .unknownBank: 401
        case .transactionNotFound, .routeNotFound, .snapTokenNotFound, .binNotFound, .payAccountNotFound: 404
        case .payAccountStatus: 412
        case .subscriptionBadRequest, .subscriptionValidation: 400
        case .subscriptionNotFound, .paymentLinkNotFound: 404
        case .paymentLinkTaken: 409
        case .paymentLinkUsedUp: 410
        case .crossSitePost: 403
        case .malformedBody, .validation: 400
        case .duplicateOrderID, .snapTransactionProcessed: 406
        case .invalidToken: 411
        case .illegalTransition, .refundKeyReused, .chargeSuperseded: 412
        case .refundOverBalance: 414
        case .idempotencyKeyRunning: 202
        case .idempotencyKeyReused: 409
        case .chargeInDoubt: 502
        case .pointsUnavailable: 402
        case .tooManySessions: 503
        case .bankUnavailable: 503
        case .fraudUnavailable: 504
        case .protocolError(let status, _): status
        case .internalFailure, .chargeBodyNotAnObject: 500
        }
    }

    /// Midtrans' `status_message` (their wording where they have one).
    public var message: String {
        switch self {
        case .unknownMerchant: "Unknown Merchant server_key/id"
        case .unknownBank: "Unknown bank"
        case .transactionNotFound: "Transaction doesn't exist."
        case .routeNotFound: "The requested resource is not found"
        case .malformedBody(let why): "The request body is invalid: \(why)"
        case .validation: "One or more parameters in the payload is invalid."
        case .duplicateOrderID:
            "The request could not be completed due to a conflict with the current state of the target resource, please try again"
        case .invalidToken: "Token id is missing, invalid, or timed out"
        case .illegalTransition: "Merchant cannot modify the status of the transaction"
        case .refundOverBalance: "Refund amount is invalid or greater than the remaining amount"
        case .refundKeyReused(let key): "refund_key \(key) was already used for another refund"
        case .idempotencyKeyRunning: "The request with this Idempotency-Key is still being processed"
        case .idempotencyKeyReused: "This Idempotency-Key was already used for a different request"
        case .chargeSuperseded(let status):
            "The transaction became \(status.rawValue) while the bank was deciding; anything the bank did is being reversed"
        case .chargeInDoubt: "The bank did not answer; the charge was cancelled and is being reversed, please charge again"
        case .fraudUnavailable: "Fraud detection unavailable"
        case .pointsUnavailable: "Point inquiry is not available for this card: only cards with bank reward points (BNI) have a balance"
        case .bankUnavailable: "The bank is unavailable, please try again later"
        case .snapTokenNotFound: "Snap token is not found or expired"
        case .snapTransactionProcessed: "transaction has been processed"
        case .tooManySessions: "Too many payment pages are open; please try again later"
        case .payAccountNotFound: "Account doesn't exist."
        case .subscriptionBadRequest: "Bad request"
        case .subscriptionValidation: "Invalid parameter."
        case .subscriptionNotFound: "Subscription doesn't exist."
        case .paymentLinkTaken(let message): message
        case .paymentLinkNotFound: "Payment link is not found, expired or deleted"
        case .paymentLinkUsedUp: "Payment link has reached its usage limit"
        case .payAccountStatus: "Account status cannot be updated."
        case .crossSitePost: "This form may only be posted from its own page"
        case .binNotFound: "BIN is not found"
        case .protocolError(_, let message): message
        case .internalFailure: "An unexpected error occurred"
        case .chargeBodyNotAnObject: "An unexpected error occurred: the request body is not a JSON object"
        }
    }

    /// The list of problems (`validation_messages` in the Core API, `error_messages` in Snap).
    public var details: [String] {
        switch self {
        case .validation(let problems), .subscriptionValidation(let problems): problems
        default: []
        }
    }

    /// Any error as a gateway error: the server's own (parse errors, 404/405, a body that is
    /// not the JSON a route decodes) keep their status; anything else is an internal failure.
    public init(_ error: any Error) {
        switch error {
        case let error as GatewayError: self = error
        case let refusal as TransactionState.Refusal:
            switch refusal {
            case .illegalMove(let from): self = .illegalTransition(from: from)
            case .refundOverBalance(let requested, let remaining): self = .refundOverBalance(requested: requested, remaining: remaining)
            }
        case let error as HTTPError where error.status == 404: self = .routeNotFound
        case let error as HTTPError: self = .protocolError(status: error.status, message: error.message)
        default: self = .internalFailure(String(describing: error))
        }
    }
}

/// Which API a request is for: each answers errors in its own shape.
public enum GatewayAPI: Sendable {
    /// `/v2/…`: `{"status_code", "status_message", "id", "validation_messages"?}`.
    case core
    /// `/snap/v1/…`: `{"error_messages": [...]}`.
    case snap
    /// Pages a browser opens (3-D Secure, Snap's payment page): HTML.
    case page
    /// `/v1/subscriptions…`: `{"status_message", "validation_messages"?}` with the HTTP status.
    case subscription
    /// `/v1/payment-links…` and a link page's charge: `{"error_messages": [...]}` (a wrong key: a string).
    case paymentLink

    public init(path: String, method: HTTPMethod) {
        if path.hasPrefix("/snap/v2/vtweb/") || (method == .get && path.hasPrefix("/v2/3ds/"))
            || (path.hasPrefix("/v2/pay/account/") && path.hasSuffix("/link")) || (path.hasPrefix("/v2/gopay/") && path.hasSuffix("/verify")) {
            self = .page
        } else if path.hasPrefix("/payment-links/") && method == .get && !path.contains("/purchases/") {
            self = .page
        } else if path.hasPrefix("/v1/payment-links") || path.hasPrefix("/payment-links/") {
            self = .paymentLink
        } else if path.hasPrefix("/v1/subscriptions") {
            self = .subscription
        } else if path.hasPrefix("/snap/") {
            self = .snap
        } else {
            self = .core
        }
    }
}
