import Foundation
import HTTPParser
import NetLab

/// 3-D Secure: the page the customer's browser opens from a card charge's `redirect_url`, and
/// the OTP it posts back. The OTP goes to the bank through the charge saga
/// (``ChargeFlow/verifyOTP(transactionID:otp:merchant:)``), so a cancel or an expiry racing
/// it is decided by the ledger like every other outcome.
struct ThreeDSecure: Sendable {
    let flow: ChargeFlow
    let merchants: MerchantDirectory

    /// The page a card charge waiting for its OTP sends the customer to (`redirect_url`).
    static func redirectURL(gatewayURL: String, transactionID: String, clientKey: String) -> String {
        "\(gatewayURL)/v2/3ds/\(transactionID)?client_key=\(clientKey)"
    }

    /// `GET /v2/3ds/{id}?client_key=…[&origin=…][&callback_url=…]`: the bank's OTP step as a
    /// page (Pages/gateway/3ds.html). `origin`: the page that framed it (the card script's, the
    /// Snap page's) — the only origin its answer is posted to; `callback_url`: where a
    /// full-screen authentication returns. Shown only for a charge that waits for its OTP.
    func page(_ request: HTTPRequest) throws(GatewayError) -> HTTPResponse {
        let id = request.pathParameters["id"] ?? ""
        let query = request.queryParameters
        guard let merchant = try merchants.merchant(clientKey: query["client_key"] ?? ""),
            let transaction = try? flow.ledger.find(merchantID: merchant.merchantID, id: id), transaction.transactionID == id,
            transaction.state.status == .pending, transaction.paymentType.isCard
        else { throw .transactionNotFound }
        let callback = query["callback_url"].flatMap { (try? HTTPURL($0)) != nil ? $0 : nil } ?? ""
        do {
            return try PageAssets.page("gateway/3ds.html", [
                "id": id, "client_key": merchant.clientKey, "parent": BrowserRequest.origin(query["origin"]) ?? "", "callback": callback,
                "amount": transaction.state.grossAmount.gatewayText, "masked_card": transaction.maskedCard ?? "",
            ], policy: PageAssets.policy(frameAncestors: "*"))
        } catch {
            throw .internalFailure("the 3-D Secure page is missing: \(error)")
        }
    }

    /// `POST /v2/3ds/{id}` (form-encoded or JSON, with the merchant's client key and the OTP).
    func verify(_ request: HTTPRequest) async throws(GatewayError) -> ChargeFlow.Result {
        if BrowserRequest.isCrossSite(request) { throw .crossSitePost }
        let form = BrowserRequest.fields(request)
        guard let clientKey = form["client_key"], let merchant = try merchants.merchant(clientKey: clientKey) else {
            throw .transactionNotFound
        }
        return try await flow.verifyOTP(transactionID: request.pathParameters["id"] ?? "", otp: form["otp"] ?? "", merchant: merchant)
    }
}
