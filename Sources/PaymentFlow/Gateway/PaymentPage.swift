import Foundation
import HTTPParser
import NetLab

/// The payment page customers pay on (Pages/gateway/snap.html and snap-page.js): Snap's page,
/// and a payment link's. It shows the order and the ways to pay, takes the payment through
/// `chargePath`, and follows it through `statusPath` until it leaves pending.
///
/// `parent` is the page that framed it (`snap.js`'s `?origin=`, checked to be an http(s)
/// origin): the only origin its results are posted to, and the only one allowed to frame it.
/// A page nobody framed may not be framed at all.
struct PaymentPage {
    /// Where the page stands when served.
    enum State: String {
        /// It takes a payment (or follows the one it took).
        case open
        /// Its time ran out before a payment was made.
        case expired
        /// There is no such page (never made, replaced by a newer one, or forgotten).
        case gone
    }

    var state: State
    var orderID = ""
    var amount = Rupiah.zero
    var clientKey = ""
    var methods: [SnapPaymentMethod] = []
    /// `item_details` as the merchant sent them.
    var items: [[String: Any]] = []
    /// The milliseconds left to pay (0: none).
    var remaining: Int64 = 0
    /// The transaction already made from this page, if any.
    var transactionID: String?
    var chargePath = ""
    /// The status of the page's transaction; a path ending in `/` is completed with its order id.
    var statusPath = ""
    var parent: String?
    var bankOrigin = ""

    init(state: State, parent: String?) {
        self.state = state
        self.parent = parent
    }

    func response(status: Int = 200) throws(GatewayError) -> HTTPResponse {
        let lines = items.map { item -> [String: Any] in
            ["name": item["name"] as? String ?? (item["id"] as? String ?? ""), "quantity": (item["quantity"] as? NSNumber)?.intValue ?? 1,
             "price": ChargeRequest.amount(item["price"])?.amount ?? 0]
        }
        do {
            return try PageAssets.page("gateway/snap.html", [
                "state": state.rawValue, "order_id": orderID, "amount": amount.gatewayText, "client_key": clientKey,
                "methods": methods.map(\.rawValue).joined(separator: ","), "items": JSONText.text(lines), "remaining": String(remaining),
                "parent": parent ?? "", "transaction": transactionID ?? "", "charge": chargePath, "status": statusPath, "bank": bankOrigin,
            ], status: status, policy: PageAssets.policy(frameAncestors: parent ?? "'none'"))
        } catch {
            throw .internalFailure("the payment page is missing: \(error)")
        }
    }

    /// The transaction as the page's script follows it: its fields without `signature_key`
    /// (the merchant's server checks that), the 3-D Secure page while a card waits for its OTP,
    /// and the way back to the merchant once it has an outcome.
    static func status(of transaction: GatewayTransaction, merchant: MerchantAccount, gatewayURL: String, finishURL: String?) -> HTTPResponse {
        var fields = transaction.fields(statusCode: transaction.statusAnswerCode, serverKey: merchant.serverKey)
        fields["signature_key"] = nil
        fields["status_message"] = "Success, transaction is found"
        if case .awaitingAuthentication = transaction.charge {
            fields["redirect_url"] = ThreeDSecure.redirectURL(gatewayURL: gatewayURL, transactionID: transaction.transactionID, clientKey: merchant.clientKey)
        }
        if let finishURL, transaction.state.status != .pending { fields["finish_redirect_url"] = Gateway.finishRedirect(finishURL, transaction) }
        return Gateway.answer(fields)
    }
}
