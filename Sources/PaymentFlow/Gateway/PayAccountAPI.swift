import Foundation
import HTTPParser
import NetLab

/// GoPay tokenization, Midtrans' "Pay Account" API: a merchant links a customer's GoPay wallet
/// once, then charges it without sending the customer to the app every time.
///
/// `POST /v2/pay/account` asks the wallet provider (the bank simulator) whether the wallet may
/// be linked — the sandbox's user-not-found and blocked numbers answer 202 at once — and answers
/// `PENDING` with the activation links. The customer opens one and approves with their PIN
/// (`GET|POST /v2/pay/account/{id}/link`); the provider then issues the token the account pays
/// with, and the account is `ENABLED`: `GET /v2/pay/account/{id}` shows the wallet as a payment
/// option (`payment_option_token`, balance). `POST …/unbind` disables it; a `PENDING` account
/// cannot be unbound (412, as Midtrans and its SDKs' tests say). An approval not given within
/// ``activationLifetime`` leaves the account `EXPIRED`.
struct PayAccountAPI: Sendable {
    let accounts: any AccountStore
    let merchants: MerchantDirectory
    let bank: BankClient
    let now: @Sendable () -> Date
    let publicURL: @Sendable () -> String

    static let activationLifetime: TimeInterval = 15 * 60

    /// `POST /v2/pay/account`.
    func link(_ request: HTTPRequest) async throws(GatewayError) -> HTTPResponse {
        let merchant = try merchants.authenticate(request)
        guard let body = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] else {
            throw .validation(["payment_type is required"])
        }
        var problems: [String] = []
        if body["payment_type"] as? String != "gopay" { problems.append("payment_type must be gopay") }
        let partner = body["gopay_partner"] as? [String: Any] ?? [:]
        let phone = partner["phone_number"] as? String ?? ""
        let country = partner["country_code"] as? String ?? ""
        if phone.isEmpty || phone.count > 15 || !phone.allSatisfy({ $0.isASCII && $0.isNumber }) || phone.hasPrefix("0") {
            problems.append("gopay_partner.phone_number must be numeric digits and must not begin with 0")
        }
        if country.isEmpty || country.count > 3 || !country.allSatisfy({ $0.isASCII && $0.isNumber }) {
            problems.append("gopay_partner.country_code must be numeric digits")
        }
        let redirect = partner["redirect_url"]
        if let redirect, (redirect as? String).map({ (try? HTTPURL($0)) == nil || $0.utf8.count > 255 }) ?? true {
            problems.append("gopay_partner.redirect_url must be an http(s) URL")
        }
        guard problems.isEmpty else { throw .validation(problems) }
        let answer: BankAPI.WalletLinked
        do {
            answer = try await bank.linkWallet(BankAPI.WalletLink(wallet: country + phone, phone_number: phone))
        } catch {
            throw .bankUnavailable
        }
        switch answer.result {
        case .userNotFound:
            return Gateway.answer(["status_code": "202", "payment_type": "gopay", "channel_response_code": "105", "channel_response_message": "User Not Found"])
        case .blocked:
            return Gateway.answer(["status_code": "202", "payment_type": "gopay", "channel_response_code": "106", "channel_response_message": "Wallet is Blocked"])
        case .linked:
            break
        }
        let account = PayAccount(accountID: UUID().uuidString.lowercased(), merchantID: merchant.merchantID, phoneNumber: phone, countryCode: country,
                                 redirectURL: redirect as? String, status: .pending, createdAt: Timestamp.millis(now()))
        try storing { try accounts.insertPayAccount(account) }
        let page = "\(publicURL())/v2/pay/account/\(account.accountID)/link"
        return Gateway.answer([
            "status_code": "201", "payment_type": "gopay", "account_id": account.accountID, "account_status": "PENDING",
            "actions": [
                ["name": "activation-link-url", "method": "GET", "url": page],
                ["name": "activation-link-app", "method": "GET", "url": page + "?app=true"],
            ],
            "metadata": ["reference_id": UUID().uuidString.lowercased()],
        ])
    }

    /// `GET /v2/pay/account/{id}`.
    func get(_ request: HTTPRequest) async throws(GatewayError) -> HTTPResponse {
        let merchant = try merchants.authenticate(request)
        let account = try current(request.pathParameters["id"] ?? "", merchantID: merchant.merchantID)
        var fields: [String: Any] = ["payment_type": "gopay", "account_id": account.accountID, "account_status": account.status.rawValue]
        switch account.status {
        case .pending:
            fields["status_code"] = "201"
        case .disabled, .expired:
            fields["status_code"] = "204"
        case .enabled:
            guard let token = account.walletToken else { throw .internalFailure("an enabled account without its token") }
            let balance: Rupiah
            do {
                balance = try await bank.walletBalance(token: token).balance
            } catch {
                throw .bankUnavailable
            }
            fields["status_code"] = "200"
            fields["metadata"] = ["payment_options": [[
                "name": "GOPAY_WALLET", "active": true, "metadata": [String: String](), "token": token,
                "balance": ["value": balance.gatewayText, "currency": "IDR"],
            ] as [String: Any]]]
        }
        return Gateway.answer(fields)
    }

    /// `POST /v2/pay/account/{id}/unbind`.
    func unbind(_ request: HTTPRequest) async throws(GatewayError) -> HTTPResponse {
        let merchant = try merchants.authenticate(request)
        let id = request.pathParameters["id"] ?? ""
        _ = try current(id, merchantID: merchant.merchantID)
        let unbound = try storing {
            try accounts.updatePayAccount(id: id) { account -> String?? in
                guard account.status == .enabled else { return nil }
                account.status = .disabled
                return .some(account.walletToken)
            }
        }
        guard case .some(.some(let token)) = unbound else { throw .payAccountStatus }
        // The gateway's record decides (a disabled account is never charged); the provider's
        // revocation makes the token worthless there too. Asked once: a bank that does not
        // answer leaves a token that the gateway will not use anyway.
        if let token { _ = try? await bank.unlinkWallet(token: token) }
        return Gateway.answer(["status_code": "204", "payment_type": "gopay", "account_id": id, "account_status": "DISABLED",
                               "channel_response_code": "0", "channel_response_message": "Process service request successfully."])
    }

    /// `GET /v2/pay/account/{id}/link`: the approval page, as the GoPay app shows it.
    func activationPage(_ request: HTTPRequest) throws(GatewayError) -> HTTPResponse {
        let id = request.pathParameters["id"] ?? ""
        guard let account = try storing({ try accounts.payAccount(id: id) }), try isLive(account), account.status == .pending else {
            throw .payAccountNotFound
        }
        do {
            return try PageAssets.page("gateway/pin.html", [
                "title": "Link GoPay", "heading": "Link your GoPay account", "action": "/v2/pay/account/\(id)/link", "button": "Link",
                "message": "Merchant \(account.merchantID) asks to charge GoPay +\(account.countryCode) \(account.phoneNumber) without asking you each time.",
                "sandbox_pin": SandboxWallets.pin,
            ], policy: PageAssets.policy(frameAncestors: "'none'"))
        } catch {
            throw .internalFailure("the GoPay page is missing: \(error)")
        }
    }

    /// `POST /v2/pay/account/{id}/link` with the customer's PIN: the provider links the wallet
    /// and issues its token; the account is enabled (once: a second approval finds it enabled).
    func activate(_ request: HTTPRequest) async throws(GatewayError) -> HTTPResponse {
        if BrowserRequest.isCrossSite(request) { throw .crossSitePost }
        let id = request.pathParameters["id"] ?? ""
        guard let account = try storing({ try accounts.payAccount(id: id) }), try isLive(account), account.status == .pending else {
            throw .payAccountNotFound
        }
        let pin = BrowserRequest.fields(request)["pin"] ?? ""
        let answer: BankAPI.WalletLinked
        do {
            answer = try await bank.linkWallet(BankAPI.WalletLink(wallet: account.walletNumber, phone_number: account.phoneNumber, pin: pin))
        } catch .refused(status: 403, _) {
            throw .validation(["the GoPay PIN is wrong"])
        } catch {
            throw .bankUnavailable
        }
        guard let token = answer.token else { throw .payAccountStatus }
        let enabled = try storing {
            try accounts.updatePayAccount(id: id) { account -> Bool in
                guard account.status == .pending else { return false }
                account.status = .enabled
                account.walletToken = token
                return true
            }
        }
        guard enabled == true else {
            // Approved twice at once: the other approval's link stands; this one's is revoked.
            _ = try? await bank.unlinkWallet(token: token)
            throw .payAccountStatus
        }
        if let redirect = account.redirectURL {
            return HTTPResponse(status: 303, fields: HTTPFields(["Location": redirect]), body: .bytes([]))
        }
        return PageAssets.message(title: "GoPay linked", heading: "Linked", message: "Your GoPay is linked. You can close this page.", ok: true)
    }

    /// The merchant's account `id` as it is now (a pending one past its time is expired, and
    /// stored so).
    private func current(_ id: String, merchantID: String) throws(GatewayError) -> PayAccount {
        guard let account = try storing({ try accounts.payAccount(id: id) }), account.merchantID == merchantID else { throw .payAccountNotFound }
        if try isLive(account) { return account }
        return try storing { try accounts.updatePayAccount(id: id) { account -> PayAccount in
            if account.status == .pending { account.status = .expired }
            return account
        } } ?? account
    }

    private func isLive(_ account: PayAccount) throws(GatewayError) -> Bool {
        account.status != .pending || Double(Timestamp.millis(now()) - account.createdAt) / 1000 < Self.activationLifetime
    }

    /// The wallet token of the merchant's enabled account `accountID` — checked against the
    /// `payment_option_token` a charge sent, when it sent one.
    func walletToken(accountID: String, merchantID: String, presented: String? = nil) throws(GatewayError) -> String {
        guard let account = try storing({ try accounts.payAccount(id: accountID) }), account.merchantID == merchantID else {
            throw .validation(["gopay.account_id is not an account of this merchant"])
        }
        guard account.status == .enabled, let wallet = account.walletToken else { throw .payAccountStatus }
        if let presented, !ConstantTime.equal(presented, wallet) { throw .validation(["gopay.payment_option_token is not this account's"]) }
        return wallet
    }
}
