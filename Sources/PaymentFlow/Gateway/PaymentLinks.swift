import Foundation
import HTTPParser
import NetLab

/// Midtrans' Payment Link API (`/v1/payment-links`): a page for a fixed order that the merchant
/// shares (a chat message, an invoice), where customers pay as on Snap's page.
///
/// A link is kept in the ``AccountStore`` — it outlives any process — and each payment through
/// it is a transaction of its own, under the order id `<order_id>-<milliseconds>` (Midtrans'
/// purchases). `usage_limit` counts uses: a use is *claimed* in the same atomic step that checks
/// the limit, before the charge runs — two customers paying the last use at once cannot both
/// get it — and given back if the charge is refused, or once its payment ends without money
/// (denied, cancelled, expired unpaid). A deleted or expired link takes no payments.
///
/// Errors answer in the API's own shape, `{"error_messages": [...]}` (a wrong key: a string).
struct PaymentLinks: Sendable {
    let accounts: any AccountStore
    let merchants: MerchantDirectory
    let flow: ChargeFlow
    let configuration: GatewayConfiguration
    let publicURL: @Sendable () -> String
    let checkpoints: Checkpoints<Gateway.Step>

    /// `POST /v1/payment-links`.
    func create(_ request: HTTPRequest) throws(GatewayError) -> HTTPResponse {
        let merchant = try merchants.authenticate(request)
        guard let body = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] else {
            throw .validation(["Invalid JSON data provided."])
        }
        let now = configuration.now()
        let details = body["transaction_details"] as? [String: Any] ?? [:]
        let orderID = details["order_id"] as? String ?? ""
        var problems = ChargeRequest.orderIDProblems(orderID)
        // Each payment's order id adds a 13-digit stamp: the link's own is at most 36 (Midtrans' limit too).
        if orderID.utf8.count > 36 { problems.append("transaction_details.order_id may not be greater than 36 characters for a payment link") }
        let gross = ChargeRequest.amount(details["gross_amount"])
        if gross == nil || gross!.amount <= 0 || gross! > ChargeRequest.maximumAmount {
            problems.append("transaction_details.gross_amount must be a whole number greater than 0")
        } else {
            problems += ChargeRequest.itemProblems(body["item_details"], gross: gross!)
        }
        problems += ChargeRequest.customerProblems(body["customer_details"])
        // Checked now, not when a customer pays: a link that could never be paid is refused at once.
        _ = ChargeRequest.echoedFields(body, problems: &problems)
        _ = Snap.finishURL(body, problems: &problems)
        if let card = body["credit_card"], !(card is [String: Any]) { problems.append("credit_card must be an object") }
        let id = (details["payment_link_id"] as? String) ?? UUID().uuidString.lowercased().prefix(12).description
        if id.isEmpty || id.utf8.count > 50 || !id.utf8.allSatisfy({ (97...122).contains($0) || (48...57).contains($0) || $0 == UInt8(ascii: "-") }) {
            problems.append("payment_link_id must only contain alphanumeric characters [a-z, 0-9] and hyphens [-]")
        }
        let limit = (body["usage_limit"] as? NSNumber)?.intValue ?? 1
        if !(1...1_000_000).contains(limit) { problems.append("usage_limit must be from 1 to 1000000") }
        var expiresAt: Int64?
        if let value = body["expiry"] {
            switch ChargeRequest.expiry(value, field: "expiry", start: "start_time", duration: "duration") {
            case .success(let expiry): expiresAt = Timestamp.millis((expiry.from ?? now).addingTimeInterval(Timestamp.seconds(expiry.lasts)))
            case .failure(let problem): problems.append(problem.message)
            }
        }
        let methods = SnapPaymentMethod.resolve(body["enabled_payments"], problems: &problems)
        let title = body["title"] as? String
        if let title, title.count > 255 { problems.append("title must be at most 255 characters") }
        guard problems.isEmpty, let gross else { throw .validation(problems) }
        // The order as the page's charges will send it (items, customer, custom fields, callbacks).
        var order: [String: Any] = [:]
        for field in ["item_details", "customer_details", "custom_field1", "custom_field2", "custom_field3", "metadata", "callbacks", "credit_card"] {
            order[field] = body[field]
        }
        var link = PaymentLink(id: id, merchantID: merchant.merchantID, orderID: orderID, grossAmount: gross, usageLimit: limit,
                               order: String(decoding: (try? JSONText.encode(order)) ?? Array("{}".utf8), as: UTF8.self), createdAt: Timestamp.millis(now))
        link.title = title
        link.expiresAt = expiresAt
        link.enabledPayments = body["enabled_payments"] == nil ? nil : methods.map(\.rawValue)
        if try storing({ try accounts.paymentLink(merchantID: merchant.merchantID, orderID: orderID) }) != nil {
            throw .paymentLinkTaken("The Order ID '\(orderID)' has been taken")
        }
        guard try storing({ try accounts.insertPaymentLink(link) }) else {
            throw .validation(["This Payment Link ID '\(id)' has been taken"])
        }
        return JSONText.response(["order_id": orderID, "payment_url": "\(publicURL())/payment-links/\(id)"])
    }

    /// `GET /v1/payment-links/{order_id}`.
    func get(_ request: HTTPRequest) throws(GatewayError) -> HTTPResponse {
        let link = try find(request)
        var object: [String: Any] = [
            "payment_link_id": link.id, "payment_link_url": "\(publicURL())/payment-links/\(link.id)", "order_id": link.orderID,
            "merchant_id": link.merchantID, "gross_amount": link.grossAmount.amount, "usage_limit": link.usageLimit, "usage": link.usage,
            "payment_link_type": "FIXED_AMOUNT", "enabled_payments": link.enabledPayments ?? SnapPaymentMethod.allCases.map(\.rawValue),
            "purchases": link.purchases.map { ["order_id": $0.orderID, "transaction_id": $0.transactionID] },
        ]
        if let title = link.title { object["title"] = title }
        if let expires = link.expiresAt { object["expiry_time"] = Timestamp.midtrans(Date(timeIntervalSince1970: Double(expires) / 1000)) }
        return JSONText.response(object)
    }

    /// `DELETE /v1/payment-links/{order_id}`: the page takes no more payments.
    func delete(_ request: HTTPRequest) throws(GatewayError) -> HTTPResponse {
        let link = try find(request)
        _ = try storing { try accounts.updatePaymentLink(id: link.id) { $0.deleted = true } }
        return JSONText.response(["message": "Payment Link with Order ID \(link.orderID) deleted"])
    }

    private func find(_ request: HTTPRequest) throws(GatewayError) -> PaymentLink {
        let merchant = try merchants.authenticate(request)
        guard let found = try storing({ try accounts.paymentLink(merchantID: merchant.merchantID, orderID: request.pathParameters["id"] ?? "") }),
            let link = try reconcile(found.id), !link.deleted
        else { throw .paymentLinkNotFound }
        return link
    }

    // MARK: The page

    /// `GET /payment-links/{id}`: the order and the ways to pay (the same ``PaymentPage`` as
    /// Snap's). A link that is deleted, expired or used up says so.
    func page(_ request: HTTPRequest) throws(GatewayError) -> HTTPResponse {
        let id = request.pathParameters["id"] ?? ""
        let link: PaymentLink
        do {
            link = try live(id)
        } catch .paymentLinkUsedUp {
            return try PaymentPage(state: .expired, parent: nil).response(status: 410)
        } catch {
            return try PaymentPage(state: .gone, parent: nil).response(status: 404)
        }
        guard let merchant = try merchants.merchant(id: link.merchantID) else { throw .paymentLinkNotFound }
        let order = (try? JSONSerialization.jsonObject(with: Data(link.order.utf8))) as? [String: Any] ?? [:]
        var page = PaymentPage(state: .open, parent: nil)
        page.orderID = link.title ?? link.orderID
        page.amount = link.grossAmount
        page.clientKey = merchant.clientKey
        page.methods = Self.methods(link)
        page.items = order["item_details"] as? [[String: Any]] ?? []
        page.remaining = link.expiresAt.map { max(0, $0 - Timestamp.millis(configuration.now())) } ?? 7 * 86_400_000
        page.chargePath = "/payment-links/\(link.id)/charge"
        page.statusPath = "/payment-links/\(link.id)/purchases/"
        page.bankOrigin = BrowserRequest.origin(of: configuration.publicBankURL ?? configuration.bankURL)
        return try page.response()
    }

    /// `GET /payment-links/{id}/purchases/{order_id}`: one payment through the link, as the
    /// page's script follows it.
    func purchase(_ request: HTTPRequest) throws(GatewayError) -> HTTPResponse {
        let id = request.pathParameters["id"] ?? "", orderID = request.pathParameters["order"] ?? ""
        guard let link = try storing({ try accounts.paymentLink(id: id) }), let purchase = link.purchases.first(where: { $0.orderID == orderID }),
            let merchant = try merchants.merchant(id: link.merchantID)
        else { throw .transactionNotFound }
        let transaction = try flow.ledger.find(merchantID: merchant.merchantID, id: purchase.transactionID)
        let order = (try? JSONSerialization.jsonObject(with: Data(link.order.utf8))) as? [String: Any] ?? [:]
        return PaymentPage.status(of: transaction, merchant: merchant, gatewayURL: publicURL(),
                                  finishURL: (order["callbacks"] as? [String: Any])?["finish"] as? String ?? merchant.finishURL)
    }

    /// `POST /payment-links/{id}/charge`: one payment through the link. A use is claimed first
    /// (refused when none is left), and given back if the charge fails.
    func charge(_ request: HTTPRequest) async throws(GatewayError) -> (ChargeFlow.Result, MerchantAccount, finishURL: String?) {
        let id = request.pathParameters["id"] ?? ""
        let link = try live(id)
        guard let merchant = try merchants.merchant(id: link.merchantID) else { throw .paymentLinkNotFound }
        var order = (try? JSONSerialization.jsonObject(with: Data(link.order.utf8))) as? [String: Any] ?? [:]
        let secure = ((order["credit_card"] as? [String: Any])?["secure"] as? NSNumber)?.boolValue ?? false
        // Checked before a use is claimed (a bad choice takes none).
        order["transaction_details"] = ["order_id": link.orderID, "gross_amount": link.grossAmount.amount]
        var charge = try Snap.pageCharge(request.body, order: order, methods: Self.methods(link), secure: secure)
        await checkpoints.pass(.paymentLinkChecked)
        let purchaseID = "\(link.orderID)-\(try claim(id))"
        charge.orderID = purchaseID
        let result: ChargeFlow.Result
        do {
            result = try await flow.charge(charge, merchant: merchant)
        } catch {
            // Refused before any money moved: the use goes back.
            _ = try? accounts.updatePaymentLink(id: id) { $0.usage = max(0, $0.usage - 1) }
            throw error
        }
        let purchase = PaymentLink.Purchase(orderID: purchaseID, transactionID: result.transaction.transactionID, createdAt: Timestamp.millis(configuration.now()))
        _ = try? accounts.updatePaymentLink(id: id) { $0.purchases.append(purchase) }
        return (result, merchant, (order["callbacks"] as? [String: Any])?["finish"] as? String)
    }

    /// Takes one use, atomically with the check that one is left; returns the purchase's stamp.
    private func claim(_ id: String) throws(GatewayError) -> Int64 {
        try reconcile(id)
        let now = Timestamp.millis(configuration.now())
        let claimed = try storing {
            try accounts.updatePaymentLink(id: id) { link -> Int64? in
                guard !link.deleted, link.usage < link.usageLimit else { return nil }
                link.usage += 1
                link.lastStamp = max(now, link.lastStamp + 1)
                return link.lastStamp
            }
        }
        guard let stamp = claimed.flatMap({ $0 }) else { throw .paymentLinkUsedUp }
        return stamp
    }

    /// Gives back the uses of purchases that ended without money. Their transactions are read
    /// first (another store); the release is then one atomic step, once per purchase.
    @discardableResult
    private func reconcile(_ id: String) throws(GatewayError) -> PaymentLink? {
        guard let link = try storing({ try accounts.paymentLink(id: id) }) else { return nil }
        var ended: Set<String> = []
        for purchase in link.purchases where !purchase.released {
            let status = try storing { try flow.store.find(merchantID: link.merchantID, id: purchase.transactionID) }?.state.status
            if let status, [.deny, .cancel, .expire, .failure].contains(status) { ended.insert(purchase.orderID) }
        }
        guard !ended.isEmpty else { return link }
        return try storing {
            try accounts.updatePaymentLink(id: id) { link -> PaymentLink in
                for index in link.purchases.indices where ended.contains(link.purchases[index].orderID) && !link.purchases[index].released {
                    link.purchases[index].released = true
                    link.usage = max(0, link.usage - 1)
                }
                return link
            }
        }
    }

    /// The link, while it takes payments.
    private func live(_ id: String) throws(GatewayError) -> PaymentLink {
        guard let link = try reconcile(id), !link.deleted,
            link.expiresAt.map({ $0 > Timestamp.millis(configuration.now()) }) ?? true
        else { throw .paymentLinkNotFound }
        guard link.usage < link.usageLimit else { throw .paymentLinkUsedUp }
        return link
    }

    private static func methods(_ link: PaymentLink) -> [SnapPaymentMethod] {
        var ignored: [String] = []
        return SnapPaymentMethod.resolve(link.enabledPayments, problems: &ignored)
    }
}
