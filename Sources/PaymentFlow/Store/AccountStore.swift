import Foundation

/// Where the gateway keeps what a customer or merchant leaves with it for later: saved cards,
/// linked GoPay accounts, subscriptions and payment links. Like the ``GatewayStore`` protocols, it persists and decides
/// nothing; every `update` is one atomic read-change-write (`change` may throw to leave the
/// record as it was).
public protocol AccountStore: Sendable {
    func saveCard(_ card: SavedCard) throws
    func savedCard(token: String) throws -> SavedCard?
    /// Makes a saved card usable (its charge was approved); false if there is no such card.
    func activateSavedCard(token: String) throws -> Bool

    func insertPayAccount(_ account: PayAccount) throws
    func payAccount(id: String) throws -> PayAccount?
    func updatePayAccount<R>(id: String, _ change: (inout PayAccount) throws -> R) throws -> R?

    func insertSubscription(_ subscription: Subscription) throws
    func subscription(id: String) throws -> Subscription?
    func updateSubscription<R>(id: String, _ change: (inout Subscription) throws -> R) throws -> R?
    /// Active subscriptions whose next charge is due at `now` (milliseconds) or earlier.
    func subscriptionsDue(now: Int64) throws -> [Subscription]

    /// Stores a new payment link; false (nothing stored) if its id, or its order id for its
    /// merchant, is taken.
    func insertPaymentLink(_ link: PaymentLink) throws -> Bool
    func paymentLink(id: String) throws -> PaymentLink?
    func paymentLink(merchantID: String, orderID: String) throws -> PaymentLink?
    func updatePaymentLink<R>(id: String, _ change: (inout PaymentLink) throws -> R) throws -> R?
}
