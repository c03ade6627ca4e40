import Foundation
import HTTPParser
import NetLab

/// Subscriptions (`/v1/subscriptions`): a saved card or a linked GoPay account charged on a
/// schedule by the gateway's timers.
///
/// **Theory of operation.** A subscription's next charge is due at `next_execution_at`. A timer
/// pass *claims* each due subscription in one atomic store step — it moves the due time a lease
/// ahead, so a second pass (or a second gateway on the same store) finds nothing due — and only
/// then charges. The charge's order id is the subscription's and the charge's number
/// (`SUBS-<id>-<n>`): should the gateway stop between the bank's approval and the subscription's
/// update, the next try of charge *n* meets the Core API's own duplicate rule (406) instead of
/// charging twice, and takes the transaction it finds as the charge's outcome. A charge that
/// fails (declined, the saved token gone, the bank silent) is retried on the retry schedule;
/// when the retries run out, the subscription becomes `inactive`, as Midtrans does. Each charge
/// is an ordinary transaction: the merchant hears of it through the usual notifications.
///
/// Errors here have no `status_code` (Midtrans' subscription API answers `status_message` and
/// `validation_messages` with the HTTP status), so ``Gateway/errorResponse(_:for:)`` gives them
/// their own shape.
struct Subscriptions: Sendable {
    let accounts: any AccountStore
    let merchants: MerchantDirectory
    let store: any TransactionStore
    let charge: CoreCharge
    let configuration: GatewayConfiguration
    let checkpoints: Checkpoints<Gateway.Step>

    /// How long a claimed charge keeps others off (longer than any charge takes).
    static let lease: TimeInterval = 300

    // MARK: API

    /// `POST /v1/subscriptions`.
    func create(_ request: HTTPRequest) throws(GatewayError) -> HTTPResponse {
        let merchant = try merchants.authenticate(request)
        guard let body = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] else {
            throw .subscriptionBadRequest
        }
        let now = configuration.now()
        var problems: [String] = []
        let name = body["name"] as? String ?? ""
        if name.isEmpty || name.count > 40 || !name.utf8.allSatisfy(ChargeRequest.isOrderIDByte) {
            problems.append("subscription.name is required: at most 40 of A-Z a-z 0-9 - _ ~ .")
        }
        let amount = Self.amount(body["amount"])
        if amount == nil { problems.append("subscription.amount must be between 0.01 - 99999999999.00") }
        if body["currency"] as? String != "IDR" { problems.append("subscription.currency must be IDR") }
        let type = (body["payment_type"] as? String).flatMap(PaymentType.init(rawValue:))
        if type != .creditCard && type != .gopay { problems.append("subscription.payment_type must be credit_card or gopay") }
        let token = body["token"] as? String ?? ""
        if token.isEmpty { problems.append("subscription.token is required") }
        let gopayAccount = (body["gopay"] as? [String: Any])?["account_id"] as? String
        if type == .gopay, gopayAccount == nil { problems.append("subscription.gopay.account_id is required for gopay") }
        let schedule = body["schedule"] as? [String: Any] ?? [:]
        let interval = (schedule["interval"] as? NSNumber)?.intValue ?? 0
        let unit = (schedule["interval_unit"] as? String).flatMap(Subscription.Unit.init(rawValue:))
        if !(1...1000).contains(interval) { problems.append("subscription.schedule.interval must be a whole number from 1") }
        if unit == nil || unit == .minute || unit == .hour { problems.append("subscription.schedule.interval_unit must be day, week or month") }
        var start: Date?
        if let text = schedule["start_time"] {
            if let parsed = (text as? String).flatMap(Timestamp.parseMidtrans), parsed > now {
                start = parsed
            } else {
                problems.append("subscription.schedule.start_time must be a future time like 2026-12-06 10:00:00 +0700")
            }
        }
        let maxInterval = (schedule["max_interval"] as? NSNumber)?.intValue
        if let maxInterval, maxInterval < 0 { problems.append("subscription.schedule.max_interval must be 0 or more") }
        let retry = Self.retrySchedule(body["retry_schedule"], problems: &problems)
        let metadata = Self.jsonText(body["metadata"], field: "subscription.metadata", problems: &problems)
        let customer = Self.jsonText(body["customer_details"], field: "subscription.customer_details", problems: &problems)
        guard problems.isEmpty, let amount, let type, let unit else { throw .subscriptionValidation(problems) }

        var subscription = Subscription(id: UUID().uuidString.lowercased(), merchantID: merchant.merchantID, name: name, amount: amount,
                                        paymentType: type, token: token, interval: interval, unit: unit, startTime: 0,
                                        createdAt: Timestamp.millis(now))
        subscription.startTime = Timestamp.millis(start ?? advance(now, by: interval, unit))
        subscription.nextExecutionAt = subscription.startTime
        // max_interval 0: charged once.
        subscription.maxInterval = maxInterval.map { max(1, $0) }
        subscription.gopayAccountID = gopayAccount
        (subscription.retryInterval, subscription.retryUnit, subscription.retryMax) = retry
        subscription.metadata = metadata
        subscription.customerDetails = customer
        try storing { try accounts.insertSubscription(subscription) }
        return JSONText.response(Self.fields(subscription))
    }

    /// `GET /v1/subscriptions/{id}`.
    func get(_ request: HTTPRequest) throws(GatewayError) -> HTTPResponse {
        JSONText.response(Self.fields(try find(request)))
    }

    /// `POST /v1/subscriptions/{id}/enable` and `/disable`.
    func setActive(_ request: HTTPRequest, _ active: Bool) throws(GatewayError) -> HTTPResponse {
        let subscription = try find(request)
        let now = Timestamp.millis(configuration.now())
        try update(subscription.id) { subscription in
            subscription.status = active ? .active : .inactive
            // Enabled again after its time: the next charge is due now, not in the past.
            if active, subscription.nextExecutionAt < now { subscription.nextExecutionAt = now }
            if active { subscription.retries = 0 }
        }
        return JSONText.response(["status_message": "Subscription is updated."])
    }

    /// `PATCH /v1/subscriptions/{id}`: name, amount, currency, token, the schedule's interval,
    /// the retry schedule, metadata, the GoPay account (not the payment type).
    func patch(_ request: HTTPRequest) throws(GatewayError) -> HTTPResponse {
        let subscription = try find(request)
        guard let body = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] else {
            throw .subscriptionBadRequest
        }
        var problems: [String] = []
        if let type = body["payment_type"] as? String, type != subscription.paymentType.rawValue {
            problems.append("subscription.payment_type cannot be changed")
        }
        let name = body["name"] as? String
        if let name, name.isEmpty || name.count > 40 || !name.utf8.allSatisfy(ChargeRequest.isOrderIDByte) {
            problems.append("subscription.name: at most 40 of A-Z a-z 0-9 - _ ~ .")
        }
        let amount = body["amount"].map { Self.amount($0) }
        if let amount, amount == nil { problems.append("subscription.amount must be between 0.01 - 99999999999.00") }
        if let currency = body["currency"], currency as? String != "IDR" { problems.append("subscription.currency must be IDR") }
        let interval = ((body["schedule"] as? [String: Any])?["interval"] as? NSNumber)?.intValue
        if let interval, !(1...1000).contains(interval) { problems.append("subscription.schedule.interval must be a whole number from 1") }
        let retry = body["retry_schedule"].map { Self.retrySchedule($0, problems: &problems) }
        let metadata = body["metadata"].map { Self.jsonText($0, field: "subscription.metadata", problems: &problems) }
        guard problems.isEmpty else { throw .subscriptionValidation(problems) }
        try update(subscription.id) { subscription in
            if let name { subscription.name = name }
            if let amount = amount.flatMap({ $0 }) { subscription.amount = amount }
            if let token = body["token"] as? String, !token.isEmpty { subscription.token = token }
            if let interval { subscription.interval = interval }
            if let retry { (subscription.retryInterval, subscription.retryUnit, subscription.retryMax) = retry }
            if let metadata { subscription.metadata = metadata }
            if let account = (body["gopay"] as? [String: Any])?["account_id"] as? String { subscription.gopayAccountID = account }
        }
        return JSONText.response(["status_message": "Subscription is updated."])
    }

    private func find(_ request: HTTPRequest) throws(GatewayError) -> Subscription {
        let merchant = try merchants.authenticate(request)
        guard let subscription = try storing({ try accounts.subscription(id: request.pathParameters["id"] ?? "") }),
            subscription.merchantID == merchant.merchantID
        else { throw .subscriptionNotFound }
        return subscription
    }

    private func update(_ id: String, _ change: (inout Subscription) -> Void) throws(GatewayError) {
        guard try storing({ try accounts.updateSubscription(id: id) { change(&$0) } }) != nil else { throw .subscriptionNotFound }
    }

    // MARK: Charging on schedule

    /// Charges every subscription due at `now`; returns how many charges were tried.
    func chargeDue() async -> Int {
        let now = configuration.now()
        guard let due = try? accounts.subscriptionsDue(now: Timestamp.millis(now)) else { return 0 }
        await checkpoints.pass(.subscriptionsListed)
        var tried = 0
        for listed in due {
            // The claim: still active and due, in one atomic step; the due time moves a lease ahead.
            let claimed = try? accounts.updateSubscription(id: listed.id) { subscription -> Subscription? in
                guard subscription.status == .active, subscription.nextExecutionAt <= Timestamp.millis(now) else { return nil }
                subscription.nextExecutionAt = Timestamp.millis(now.addingTimeInterval(Self.lease))
                return subscription
            }
            guard let subscription = claimed.flatMap({ $0 }) else { continue }
            tried += 1
            let outcome = await chargeOnce(subscription)
            _ = try? accounts.updateSubscription(id: subscription.id) { stored in
                stored.record(outcome, at: configuration.now(), next: { advance($0, by: $1, $2) })
            }
        }
        return tried
    }

    /// Charge number `current_interval + 1` of `subscription`.
    func chargeOnce(_ subscription: Subscription) async -> Subscription.ChargeOutcome {
        guard let merchant = try? merchants.merchant(id: subscription.merchantID) else { return .failed }
        let orderID = subscription.orderID(forCharge: subscription.currentInterval + 1)
        var body: [String: Any] = [
            "payment_type": subscription.paymentType.rawValue,
            "transaction_details": ["order_id": orderID, "gross_amount": subscription.amount.amount],
        ]
        switch subscription.paymentType {
        case .gopay:
            body["gopay"] = ["account_id": subscription.gopayAccountID ?? "", "payment_option_token": subscription.token, "recurring": true] as [String: Any]
        default:
            body["credit_card"] = ["token_id": subscription.token]
        }
        if let customer = subscription.customerDetails.flatMap({ try? JSONSerialization.jsonObject(with: Data($0.utf8)) }) {
            body["customer_details"] = customer
        }
        do {
            let request = try ChargeRequest(json: body)
            let result = try await charge(request, merchant: merchant)
            return Self.outcome(of: result.transaction)
        } catch .duplicateOrderID {
            // Charge n was made before the gateway could write it down: it is the outcome.
            guard let made = try? store.transactions(merchantID: merchant.merchantID, orderID: orderID).first else { return .failed }
            return Self.outcome(of: made)
        } catch {
            return .failed
        }
    }

    static func outcome(of transaction: GatewayTransaction) -> Subscription.ChargeOutcome {
        switch transaction.state.status {
        case .capture, .settlement, .authorize: .charged(transactionID: transaction.transactionID)
        // Still waiting (an answer in doubt): not a charge yet. The retry meets the duplicate
        // rule while it waits, and charges anew only once it has expired unpaid.
        default: .failed
        }
    }

    /// `date` moved `count` × `unit` on the subscription clock: real calendar time, or — with
    /// compressed clocks (`--fast`, tests) — scaled seconds, a month counted as 30 days.
    func advance(_ date: Date, by count: Int, _ unit: Subscription.Unit) -> Date {
        let scale = configuration.subscriptionClockScale
        if scale == 1, unit == .month {
            return Timestamp.calendar.date(byAdding: .month, value: count, to: date) ?? date
        }
        let seconds: Double = switch unit {
        case .minute: 60
        case .hour: 3600
        case .day: 86400
        case .week: 7 * 86400
        case .month: 30 * 86400
        }
        return date.addingTimeInterval(Double(count) * seconds * scale)
    }

    // MARK: Shapes

    static func amount(_ value: Any?) -> Rupiah? {
        guard let amount = ChargeRequest.amount(value), amount.amount > 0, amount.amount <= 99_999_999_999 else { return nil }
        return amount
    }

    static func retrySchedule(_ value: Any?, problems: inout [String]) -> (Int, Subscription.Unit, Int) {
        guard let value else { return (1, .hour, 3) }
        guard let object = value as? [String: Any] else {
            problems.append("subscription.retry_schedule must be an object")
            return (1, .hour, 3)
        }
        let interval = (object["interval"] as? NSNumber)?.intValue ?? 1
        let unit = (object["interval_unit"] as? String).flatMap(Subscription.Unit.init(rawValue:)) ?? .hour
        let max = (object["max_interval"] as? NSNumber)?.intValue ?? 3
        if !(1...1000).contains(interval) || ![.minute, .hour, .day].contains(unit) || !(0...3).contains(max) {
            problems.append("subscription.retry_schedule: interval from 1, interval_unit minute, hour or day, max_interval 0 to 3")
        }
        return (interval, unit, max)
    }

    static func jsonText(_ value: Any?, field: String, problems: inout [String]) -> String? {
        guard let value else { return nil }
        guard let object = value as? [String: Any], let text = try? JSONText.encode(object), text.count <= 1024 else {
            problems.append("\(field) must be a JSON object of at most 1024 bytes")
            return nil
        }
        return String(decoding: text, as: UTF8.self)
    }

    static func fields(_ s: Subscription) -> [String: Any] {
        func time(_ millis: Int64) -> String { Timestamp.midtrans(Date(timeIntervalSince1970: Double(millis) / 1000)) }
        var schedule: [String: Any] = [
            "interval": s.interval, "interval_unit": s.unit.rawValue, "current_interval": s.currentInterval,
            "start_time": time(s.startTime), "next_execution_at": time(s.nextExecutionAt),
        ]
        if let max = s.maxInterval { schedule["max_interval"] = max }
        if let previous = s.previousExecutionAt { schedule["previous_execution_at"] = time(previous) }
        var object: [String: Any] = [
            "id": s.id, "name": s.name, "amount": String(s.amount.amount), "currency": "IDR", "created_at": time(s.createdAt),
            "schedule": schedule, "status": s.status.rawValue, "token": s.token, "payment_type": s.paymentType.rawValue,
            "retry_schedule": ["interval": s.retryInterval, "interval_unit": s.retryUnit.rawValue, "max_interval": s.retryMax],
            "transaction_ids": s.transactionIDs,
        ]
        for (name, text) in [("metadata", s.metadata), ("customer_details", s.customerDetails)] {
            if let text, let value = try? JSONSerialization.jsonObject(with: Data(text.utf8)) { object[name] = value }
        }
        if let account = s.gopayAccountID { object["gopay"] = ["account_id": account] }
        return object
    }

}

extension Subscription {
    /// What one scheduled charge came to.
    public enum ChargeOutcome: Equatable, Sendable {
        /// A transaction was made and not refused (captured, settled, or waiting for the
        /// customer); its id goes into `transaction_ids`.
        case charged(transactionID: String)
        /// Declined, refused, or no answer: retried on the retry schedule.
        case failed
    }

    /// The order id of charge `n`: the same for every try of that charge (the Core API's
    /// duplicate rule then keeps a charge from being made twice), at most 50 characters.
    func orderID(forCharge n: Int) -> String {
        "SUBS-\(id.prefix(36))-\(n)"
    }

    /// Records a charge's outcome and when the next one is due: the next interval after a
    /// charge (inactive once `max_interval` charges are made), the retry interval after a
    /// failure (inactive once the retries run out).
    mutating func record(_ outcome: ChargeOutcome, at now: Date, next advance: (Date, Int, Unit) -> Date) {
        let millis = { (date: Date) in Int64(date.timeIntervalSince1970 * 1000) }
        switch outcome {
        case .charged(let transactionID):
            if !transactionIDs.contains(transactionID) { transactionIDs.append(transactionID) }
            currentInterval += 1
            retries = 0
            previousExecutionAt = millis(now)
            // The next scheduled time after now: periods missed (disabled for a while, retries
            // that outlasted an interval, an interval shortened) are skipped, never charged
            // one after another.
            let start = Date(timeIntervalSince1970: Double(startTime) / 1000)
            var period = currentInterval
            var next = advance(start, interval * period, unit)
            while next <= now, period < currentInterval + 100_000 {
                period += 1
                next = advance(start, interval * period, unit)
            }
            nextExecutionAt = millis(next)
            if let maxInterval, currentInterval >= maxInterval { status = .inactive }
        case .failed:
            retries += 1
            if retries > retryMax {
                status = .inactive
            } else {
                nextExecutionAt = millis(advance(now, retryInterval, retryUnit))
            }
        }
    }
}
