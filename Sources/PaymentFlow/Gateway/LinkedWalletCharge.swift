import Foundation
import HTTPParser
import NetLab

/// A charge of a linked GoPay account (`gopay.account_id` + `payment_option_token`).
///
/// It starts as every GoPay charge does — reserved, then an account opened at the wallet
/// provider (the bank) — and then the wallet pays that account itself: below Rp 100,000 at once
/// (the answer is already `settlement`), from there on once the customer approves with their
/// PIN on the verification page (`GET|POST /v2/gopay/{transaction_id}/verify`). Either way the
/// money moves in the bank's one step (account paid, wallet charged), and the gateway records
/// it through the ledger like any payment notice — so the notice the bank also sends, arriving
/// first or second, changes nothing twice.
struct LinkedWalletCharge: Sendable {
    let flow: ChargeFlow
    let merchants: MerchantDirectory
    let payAccounts: PayAccountAPI
    let now: @Sendable () -> Date
    let publicURL: @Sendable () -> String

    /// Where a linked charge names its account with the transaction (never shown): the PIN page
    /// looks the account up again, so an account unbound meanwhile pays nothing.
    static let accountExtra = "_pay_account"

    /// Continues `opened` (a GoPay charge whose account the bank opened) from the linked
    /// account `accountID`, whose wallet token is `token`. `recurring`: a merchant-initiated
    /// charge the link already allows (a subscription): no PIN.
    func pay(_ opened: ChargeFlow.Result, accountID: String, token: String, recurring: Bool = false,
             merchant: MerchantAccount) async throws(GatewayError) -> ChargeFlow.Result {
        guard opened.transaction.state.status == .pending, opened.transaction.vaNumber != nil else { return opened }
        let id = opened.transaction.transactionID
        let page = "\(publicURL())/v2/gopay/\(id)/verify"
        let needsPIN = !recurring && opened.transaction.state.grossAmount >= SandboxWallets.pinThreshold
        let transaction = try flow.ledger.amend(merchantID: merchant.merchantID, id: id) { transaction throws(GatewayError) -> GatewayTransaction in
            transaction.extra[Self.accountExtra] = accountID
            // Paid from the linked wallet only: no QR code, no app link for anyone else to pay.
            transaction.extra["qr_string"] = nil
            if needsPIN {
                let actions = [
                    ["name": "verification-link-url", "method": "GET", "url": page],
                    ["name": "verification-link-app", "method": "GET", "url": page + "?app=true"],
                ]
                transaction.extra["actions"] = JSONText.text(actions)
            } else {
                transaction.extra["actions"] = nil
            }
            return transaction
        }
        if needsPIN {
            return ChargeFlow.Result(transaction: transaction, message: "GoPay transaction is created. Action(s) required")
        }
        return try await debit(transaction, token: token, pin: nil, recurring: recurring, merchant: merchant)
    }

    /// The wallet pays the transaction's account; the outcome recorded through the ledger.
    func debit(_ transaction: GatewayTransaction, token: String, pin: String?, recurring: Bool = false,
               merchant: MerchantAccount) async throws(GatewayError) -> ChargeFlow.Result {
        let id = transaction.transactionID
        do {
            _ = try await flow.bank.payFromWallet(BankAPI.WalletPayment(token: token, va_number: transaction.vaNumber ?? "", pin: pin,
                                                                         recurring: recurring))
        } catch .refused(status: 402, _) {
            return try await declined(id, merchant: merchant, code: "201", reason: "Insufficient Balance")
        } catch .refused(status: 404, _) {
            // The provider no longer knows the link (revoked): nothing moved, and nothing will.
            return try await declined(id, merchant: merchant, code: "202", reason: "The wallet's link is no longer valid")
        } catch .refused(status: 403, _) {
            throw .validation(["the GoPay PIN is wrong"])
        } catch .refused(status: let status, _) where status == 409 || status == 410 {
            // Paid already, or closed (the transaction was cancelled or expired meanwhile):
            // nothing moved now; the transaction says what did.
            return Self.result(try flow.ledger.find(merchantID: merchant.merchantID, id: id))
        } catch {
            // In doubt: the wallet may have paid. The transaction stays pending; the bank's
            // notice settles it if the money moved, the expiry timer ends it if not.
            return Self.result(try flow.ledger.find(merchantID: merchant.merchantID, id: id))
        }
        let moment = now()
        return Self.result(try record(.paid, id: id, merchant: merchant) { PaymentChannel.settle(&$0, at: moment) })
    }

    /// Records the refusal; the account the charge opened is closed at the bank (a deny of a
    /// waiting payment owes that), so nothing paid into it later is kept.
    private func declined(_ id: String, merchant: MerchantAccount, code: String, reason: String) async throws(GatewayError) -> ChargeFlow.Result {
        let denied = try record(.declined(fraud: .accept), id: id, merchant: merchant) { transaction in
            (transaction.extra["channel_response_code"], transaction.extra["channel_response_message"]) = (code, reason)
        }
        if denied.reversalOwed { await flow.obligations.settle(denied) }
        return Self.result(denied)
    }

    /// What the transaction, as it now is, tells the merchant.
    static func result(_ transaction: GatewayTransaction) -> ChargeFlow.Result {
        let message = switch transaction.state.status {
        case .settlement: "Success, GoPay transaction is successful"
        case .deny: "GoPay transaction is denied"
        case .pending: "GoPay transaction is created"
        default: "GoPay transaction is \(transaction.state.status.rawValue)"
        }
        return ChargeFlow.Result(transaction: transaction, message: message)
    }

    /// Records `event`, or — when the bank's notice got there first — finds what it recorded.
    private func record(_ event: TransactionState.Event, id: String, merchant: MerchantAccount,
                        alongside: (inout GatewayTransaction) -> Void) throws(GatewayError) -> GatewayTransaction {
        do {
            return try flow.ledger.record(event, merchantID: merchant.merchantID, id: id, alongside: { transaction throws(GatewayError) in
                alongside(&transaction)
            })
        } catch .illegalTransition {
            return try flow.ledger.find(merchantID: merchant.merchantID, id: id)
        }
    }

    // MARK: The verification page

    /// `GET /v2/gopay/{transaction_id}/verify`: the PIN form, as the GoPay app asks for it.
    func page(_ request: HTTPRequest, find: (String) throws(GatewayError) -> GatewayTransaction?) throws(GatewayError) -> HTTPResponse {
        let id = request.pathParameters["id"] ?? ""
        guard let transaction = try find(id), transaction.state.status == .pending, transaction.extra[Self.accountExtra] != nil else {
            throw .transactionNotFound
        }
        do {
            return try PageAssets.page("gateway/pin.html", [
                "title": "GoPay", "heading": "Pay Rp \(transaction.state.grossAmount.displayText.replacingOccurrences(of: "Rp ", with: "")) with GoPay",
                "message": "Order \(transaction.orderID) from merchant \(transaction.merchantID).", "action": "/v2/gopay/\(id)/verify",
                "button": "Pay", "sandbox_pin": SandboxWallets.pin,
            ], policy: PageAssets.policy(frameAncestors: "'none'"))
        } catch {
            throw .internalFailure("the GoPay page is missing: \(error)")
        }
    }

    /// `POST /v2/gopay/{transaction_id}/verify` with the PIN. The account is looked up again:
    /// one unbound since the charge began pays nothing.
    func verify(_ request: HTTPRequest, find: (String) throws(GatewayError) -> GatewayTransaction?) async throws(GatewayError) -> HTTPResponse {
        if BrowserRequest.isCrossSite(request) { throw .crossSitePost }
        let id = request.pathParameters["id"] ?? ""
        guard let transaction = try find(id), transaction.state.status == .pending, let accountID = transaction.extra[Self.accountExtra],
            let merchant = try merchants.merchant(id: transaction.merchantID)
        else { throw .transactionNotFound }
        let token = try payAccounts.walletToken(accountID: accountID, merchantID: merchant.merchantID)
        let result = try await debit(transaction, token: token, pin: BrowserRequest.fields(request)["pin"] ?? "", merchant: merchant)
        return PageAssets.message(title: "GoPay", heading: result.message, message: "You can close this page.",
                                  ok: result.transaction.state.status == .settlement)
    }
}
