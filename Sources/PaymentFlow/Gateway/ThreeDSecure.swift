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

    /// `GET /v2/3ds/{id}?client_key=…`: a form for the OTP. Everything shown is escaped.
    func page(_ request: HTTPRequest) -> HTTPResponse {
        let id = HTML.escape(request.pathParameters["id"] ?? "")
        let clientKey = HTML.escape(request.queryParameters["client_key"] ?? "")
        return HTML.page(title: "3-D Secure", body: """
            <h1>3-D Secure authentication</h1>
            <p>Your bank sent a one-time password to your phone (sandbox: 112233).</p>
            <form method="post" action="/v2/3ds/\(id)">
            <input type="hidden" name="client_key" value="\(clientKey)">
            <label>OTP <input name="otp" inputmode="numeric" autocomplete="one-time-code"></label>
            <button type="submit">Pay</button>
            </form>
            """)
    }

    /// `POST /v2/3ds/{id}` (form-encoded or JSON, with the merchant's client key and the OTP).
    func verify(_ request: HTTPRequest) async throws(GatewayError) -> ChargeFlow.Result {
        try HTML.refuseCrossSite(request)
        let form = HTML.formOrJSON(request)
        guard let clientKey = form["client_key"], let merchant = try merchants.merchant(clientKey: clientKey) else {
            throw .transactionNotFound
        }
        return try await flow.verifyOTP(transactionID: request.pathParameters["id"] ?? "", otp: form["otp"] ?? "", merchant: merchant)
    }
}
