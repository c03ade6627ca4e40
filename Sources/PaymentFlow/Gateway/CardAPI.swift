import Foundation
import HTTPParser
import NetLab

/// The card calls around a charge: tokens (`GET /v2/token`), saved cards
/// (`GET /v2/card/register`), BNI reward points (`GET /v2/point_inquiry/{token}`) and the BIN
/// lookup (`GET /v1/bins/{bin}`).
///
/// Token and register calls come from the customer's browser with the merchant's *client* key
/// in the query (the official server SDKs send the server key as Basic auth instead: both
/// work), and answer JSONP when given `callback` (Midtrans' browser script loads them as
/// scripts). Failures reach a JSONP caller through its callback too: a script has no status.
struct CardAPI: Sendable {
    let vault: CardVault
    let merchants: MerchantDirectory
    let bank: BankClient
    let now: @Sendable () -> Date

    /// `GET /v2/token?client_key=…&card_number=…&card_cvv=…&card_exp_month=…&card_exp_year=…`,
    /// or for a saved card (two-click) `…&token_id=<saved_token_id>&card_cvv=…`: a single-use
    /// token for one charge.
    func token(_ request: HTTPRequest) throws(GatewayError) -> HTTPResponse {
        try answeringJSONP(request) { merchant, query throws(GatewayError) in
            var card: StoredCard
            if let saved = query["token_id"] {
                guard let found = try vault.saved(saved, merchantID: merchant.merchantID, now: now()) else { throw .invalidToken }
                guard let cvv = query["card_cvv"], !cvv.isEmpty else { throw .validation(["card_cvv is required"]) }
                card = found.card
                card.cvv = cvv
            } else {
                card = try CardVault.card(from: query)
            }
            let id = try vault.store(card, merchantID: merchant.merchantID, now: now())
            return ["status_code": "200", "status_message": "Credit card token is created as Token ID.", "token_id": id]
        }
    }

    /// `GET /v2/card/register?client_key=…&card_number=…&card_exp_month=…&card_exp_year=…`:
    /// saves the card (no CVV needed, none kept) and answers its `saved_token_id`.
    func register(_ request: HTTPRequest) throws(GatewayError) -> HTTPResponse {
        try answeringJSONP(request) { merchant, query throws(GatewayError) in
            var withoutCVV = query
            withoutCVV["card_cvv"] = withoutCVV["card_cvv"] ?? ""
            let card = try CardVault.card(from: withoutCVV)
            guard Bank.notExpired(month: card.expiryMonth, year: card.expiryYear, now: now()) else {
                throw .validation(["card_exp_month and card_exp_year: the card has expired"])
            }
            let saved = try vault.save(card, merchantID: merchant.merchantID)
            return ["status_code": "200", "saved_token_id": saved.savedTokenID, "masked_card": saved.maskedCard,
                    "transaction_id": UUID().uuidString.lowercased()]
        }
    }

    /// `GET /v2/point_inquiry/{token_id}` (server key): the reward points a card holds, asked of
    /// its bank. The token is looked at, not used up: the charge that redeems comes next.
    func pointInquiry(_ request: HTTPRequest) async throws(GatewayError) -> HTTPResponse {
        let merchant = try merchants.authenticate(request)
        let token = request.pathParameters["token"] ?? ""
        let moment = now()
        var card = try vault.peek(token, merchantID: merchant.merchantID, now: moment)
        if card == nil { card = try vault.saved(token, merchantID: merchant.merchantID, now: moment)?.card }
        guard let card else { throw .invalidToken }
        let balance: BankAPI.PointBalance
        do {
            balance = try await bank.points(BankAPI.PointInquiry(card: card))
        } catch .refused(status: 404, _) {
            throw .pointsUnavailable
        } catch {
            throw .bankUnavailable
        }
        return Gateway.answer(["status_code": "200", "status_message": "Success, Credit Card Point inquiry is successful",
                               "transaction_time": Timestamp.midtrans(moment), "point_balance_amount": balance.point_balance.gatewayText])
    }

    /// `GET /v1/bins/{bin}`: what a card's first digits say (brand, issuing bank, credit or
    /// debit), for a payment page that adapts to the card being typed. Client or server key.
    func binLookup(_ request: HTTPRequest) throws(GatewayError) -> HTTPResponse {
        let key = MerchantDirectory.basicUser(request) ?? ""
        guard (try merchants.merchant(clientKey: key)) != nil || (try? merchants.authenticate(request)) != nil else { throw .unknownMerchant }
        let bin = request.pathParameters["bin"] ?? ""
        guard (6...8).contains(bin.count), bin.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw .validation(["the BIN is the first 6 to 8 digits of a card number"])
        }
        guard let card = SandboxCards.all.first(where: { $0.number.hasPrefix(bin) }) else { throw .binNotFound }
        let data: [String: Any] = [
            "bin": bin, "brand": card.brand, "bin_type": card.debit ? "DEBIT" : "CREDIT", "bin_class": "CLASSIC",
            "bank_code": card.issuer.rawValue.uppercased(), "bank": card.issuer.name, "country_code": "ID", "country_name": "INDONESIA",
            "channel": card.outcome == .offlineOnly ? "offline" : "online_offline",
            "registration_required": false,
        ]
        return HTTPResponse(status: 200, fields: HTTPFields(["Content-Type": "application/json"]), body: .bytes((try? JSONText.encode(["data": data])) ?? []))
    }

    // MARK: JSONP

    /// Runs `answer` for the merchant named by the query's `client_key` (or the Basic-auth
    /// server key), and answers its fields as JSON — or as JSONP, failures included, when the
    /// query has a `callback`.
    private func answeringJSONP(_ request: HTTPRequest,
                                _ answer: (MerchantAccount, [String: String]) throws(GatewayError) -> [String: Any]) throws(GatewayError) -> HTTPResponse {
        let query = request.queryParameters
        let callback = try Self.jsonpCallback(query["callback"])
        do {
            let byClientKey = try query["client_key"].flatMap { key throws(GatewayError) in try merchants.merchant(clientKey: key) }
            guard let merchant = byClientKey ?? (try? merchants.authenticate(request)) else { throw GatewayError.unknownMerchant }
            return Self.uncached(Self.jsonp(Gateway.answer(try answer(merchant, query)), callback: callback))
        } catch {
            return Self.uncached(Self.jsonp(Gateway.errorResponse(GatewayError(error), for: .core), callback: callback))
        }
    }

    /// The card travelled in the request's URL: no cache may keep the answer under it.
    static func uncached(_ response: HTTPResponse) -> HTTPResponse {
        var response = response
        try? response.fields.append(name: "Cache-Control", value: "no-store")
        return response
    }

    /// `callback` for JSONP (`GET /v2/token?callback=…`, as Midtrans' browser script asks): a
    /// JavaScript name and nothing else — anything more would let a page inject script.
    static func jsonpCallback(_ name: String?) throws(GatewayError) -> String? {
        guard let name else { return nil }
        guard !name.isEmpty, name.utf8.count <= 64, name.utf8.first.map({ !(48...57).contains($0) }) ?? false,
            name.utf8.allSatisfy({ (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0) || $0 == UInt8(ascii: "_")
                || $0 == UInt8(ascii: "$") || $0 == UInt8(ascii: ".") })
        else { throw .validation(["callback must be a JavaScript function name (letters, digits, _ $ .)"]) }
        return name
    }

    /// The JSON answer wrapped as `callback({...});` (HTTP 200, JavaScript), or as it is without one.
    static func jsonp(_ response: HTTPResponse, callback: String?) -> HTTPResponse {
        guard let callback, case .bytes(let json) = response.body else { return response }
        var fields = HTTPFields(["Content-Type": "application/javascript; charset=utf-8"])
        try? fields.append(name: "X-Content-Type-Options", value: "nosniff")
        return HTTPResponse(status: 200, fields: fields, body: .bytes(Array("/**/\(callback)(".utf8) + json + Array(");".utf8)))
    }
}
