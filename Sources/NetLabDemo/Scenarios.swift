import Foundation
import HTTPParser
import NetLab
import PaymentFlow
import TLSWrapper

/// The stories `netlab demo` can tell (`--scenario NAME`, `--list`).
public enum DemoScenario: String, CaseIterable, Sendable {
    case cardAccept = "card-accept"
    case cardDeny = "card-deny"
    case fraudChallenge = "fraud-challenge"
    case vaTransfer = "va-transfer"
    case expire
    case refund
    case merchantDown = "merchant-down"
    case forgedWebhook = "forged-webhook"
    case mitm
    case gatewayRestart = "gateway-restart"
    case cstore
    case qris
    case savedCard = "saved-card"
    case gopayLinked = "gopay-linked"
    case subscription

    public var summary: String {
        switch self {
        case .cardAccept: "card payment with 3-D Secure: token, charge, fraud check, bank, OTP, webhook, paid"
        case .cardDeny: "the bank declines the card; the order is denied"
        case .fraudChallenge: "fraud detection challenges a card payment; the merchant reviews and approves it"
        case .vaTransfer: "bank transfer: a virtual account, paid at the bank's ATM, settled, webhook, paid"
        case .expire: "a virtual account nobody pays expires; the bank then refuses the late payment"
        case .refund: "a card payment settles (D+1, compressed), then the merchant refunds it"
        case .merchantDown: "the merchant's webhook endpoint is down; the gateway retries until it is back"
        case .forgedWebhook: "an attacker posts a forged webhook and replays a genuine one; the merchant is not fooled"
        case .mitm: "an interceptor with another CA's certificate: refused by TLS verification; with verification off it steals the card"
        case .gatewayRestart: "the gateway stops mid-payment; restarted on its SQLite state, it remembers everything and delivers the webhook"
        case .cstore: "pay at an Indomaret counter: a payment code instead of a card, settled when the till takes the cash"
        case .qris: "QRIS: the gateway draws the QR code, the wallet reads the EMVCo payload (account, amount, CRC) and pays"
        case .savedCard: "a saved card: registered once (sealed at the gateway), then charged with its saved_token_id, no card number or CVV again"
        case .gopayLinked: "GoPay tokenization: the customer links the wallet once with the PIN; the shop then charges it without a redirect"
        case .subscription: "a subscription: the gateway's timers charge a saved card every day (a day lasts a second here), three times"
        }
    }
}

/// How to run the demo.
public struct DemoOptions: Sendable {
    public var scenario: DemoScenario = .cardAccept
    /// HTTP instead of HTTPS between every actor (the `mitm` scenario always uses TLS).
    public var plaintext = false
    /// Where TLS secrets go (NSS key-log lines, for Wireshark); nil: nowhere.
    public var keyLog: (@Sendable (String) -> Void)?
    /// The HTTP parser of every actor (a student's, from exercises/); nil: NetLab's.
    public var httpParser: HTTPParserFactory?

    public init(scenario: DemoScenario = .cardAccept, plaintext: Bool = false) {
        self.scenario = scenario
        self.plaintext = plaintext
    }
}

/// How a run ended.
public struct DemoResult: Sendable {
    public var succeeded: Bool
    /// One line: what happened (or what went wrong).
    public var summary: String
}

/// Runs a scenario with every actor in this process on loopback, on a fresh state folder (a
/// new lab CA, new SQLite files) that is removed afterwards, and records each step.
public enum DemoRunner {
    public static func run(_ options: DemoOptions, recorder: DemoRecorder) async -> DemoResult {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-demo-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: state) }
        var context = DemoContext(options: options, recorder: recorder, state: state)
        do {
            let result = try await context.play()
            await context.stop()
            return result
        } catch {
            await context.stop()
            recorder.add(DemoStep(layer: .note, kind: "note", from: "demo", title: "The demo stopped: \(error)", outcome: "failed"))
            return DemoResult(succeeded: false, summary: "the \(options.scenario.rawValue) scenario failed: \(error)")
        }
    }
}

/// What the scenarios need: the running system, the recorder, and small helpers.
struct DemoContext {
    let options: DemoOptions
    let recorder: DemoRecorder
    let state: String
    var system: PaymentSystem?

    init(options: DemoOptions, recorder: DemoRecorder, state: String) {
        self.options = options
        self.recorder = recorder
        self.state = state
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    var plaintext: Bool { options.plaintext && options.scenario != .mitm }

    func systemOptions() -> PaymentSystemOptions {
        var o = PaymentSystemOptions(stateDirectory: state)
        o.plaintext = plaintext
        o.retryPolicy = RetryPolicy(delays: [.milliseconds(150), .milliseconds(300), .milliseconds(600), .seconds(1), .seconds(2)], jitter: false)
        o.pollInterval = .milliseconds(20)
        o.httpParser = options.httpParser
        o.paymentExpiry = options.scenario == .expire ? .milliseconds(1500) : .seconds(24 * 3600)
        o.settlementDelay = options.scenario == .refund ? .seconds(1) : .seconds(24 * 3600)
        // The subscription story's days last a second.
        if options.scenario == .subscription { o.subscriptionClockScale = 1.0 / 86400 }
        let recorder = self.recorder
        o.observer = { recorder.observe($0) }
        let keyLog = options.keyLog
        o.makeClient = { caller, configuration in
            var configuration = configuration
            if let keyLog, let tls = configuration.tls {
                var tlsConfiguration = tls.configuration
                tlsConfiguration.keyLog = keyLog
                configuration.tls = (try? TLSContext(tlsConfiguration)) ?? tls
            }
            return HTTPClient(configuration: configuration, connector: WireObserver(recorder: recorder, caller: caller).connector)
        }
        return o
    }

    mutating func start(ports: [PaymentActor: UInt16] = [:]) async throws -> PaymentSystem {
        var options = systemOptions()
        options.ports = ports
        let system = try await PaymentSystem.start(options)
        for (actor, url) in system.services { recorder.name(actor.rawValue, at: url) }
        recorder.markSensitive(PaymentSystemOptions.defaultServerKey)
        recorder.markSensitive("Basic " + Data((PaymentSystemOptions.defaultServerKey + ":").utf8).base64EncodedString())
        self.system = system
        return system
    }

    func stop() async { await system?.shutdown() }

    @discardableResult
    func note(_ title: String, _ details: [String] = [], outcome: String? = nil) -> DemoStep {
        recorder.add(DemoStep(layer: .note, kind: "note", from: "demo", title: title, details: details, outcome: outcome))
    }

    func card(_ number: String) -> Customer.Card {
        recorder.markSensitive(number)
        return Customer.Card(number: number)
    }

    /// The story's last word, once it has come to rest: every request sent answered, and every
    /// notification delivered or given up — otherwise a webhook still on its way (a second one
    /// for the same order, say) would be cut off mid-exchange. A notification about an order the
    /// shop never placed (the interceptor's charge) is refused and retried on the gateway's
    /// schedule for minutes; the story waits for its first answer only. Then the recorder is
    /// sealed: the retries and whatever the shutdown cuts off are not part of the story.
    func conclude(_ title: String, _ details: [String] = [], outcome: String) async {
        let store = system?.store, shop = system?.shop, merchantID = system?.options.merchantID ?? ""
        let last = DemoStep(layer: .note, kind: "note", from: "demo", title: title, details: details, outcome: outcome)
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline && !Task.isCancelled {
            let outstanding = ((try? store?.notifications(merchantID: merchantID, orderID: nil)) ?? []).filter {
                $0.deliveredAt == nil && $0.gaveUpAt == nil && (shop?.order($0.orderID) != nil || $0.attempts == 0)
            }
            // At rest: every request answered and no message on its way, checked and sealed at
            // once (a retry starting between a check and the end would be cut off mid-exchange).
            if outstanding.isEmpty, recorder.conclude(with: last, if: { steps in
                steps.filter { $0.kind == "http.request" }.count == steps.filter { $0.kind == "http.response" }.count
            }) { return }
            try? await Task.sleep(for: .milliseconds(10))
        }
        // Never at rest within the limit (a story gone wrong): end it anyway, as it stands.
        note(title, details, outcome: outcome)
        recorder.seal()
    }

    /// Waits for the step `what` describes; throws a readable failure if it never comes.
    func expect(_ what: String, limit: Duration = .seconds(15), _ condition: @escaping @Sendable ([DemoStep]) -> Bool) async throws {
        guard await recorder.wait(for: limit, until: condition) else { throw Failure(description: "expected \(what), which did not happen") }
    }

    /// Waits until the merchant has checked (and answered) the webhook for `order` that says
    /// `status` — applied, or a duplicate when the shop already knew. (Matched on what the
    /// notification says, not on what `GET status` confirmed: a late `pending` notification is
    /// confirmed as `capture` when the payment went on meanwhile, and is not the capture webhook.)
    func webhookHandled(_ order: String, _ status: String) async throws {
        try await expect("the merchant to check the \(status) webhook for \(order)") { steps in
            guard let check = steps.lastIndex(where: {
                $0.kind == "payment.webhook" && $0.title.hasSuffix(order) && $0.outcome != "rejected"
                    && $0.details.contains("the notification says transaction_status \(status)")
            }) else { return false }
            return steps[check...].contains { $0.kind == "http.response" && $0.from == "merchant" && $0.to == "notification" }
        }
    }

    func orderStatus(_ id: String) -> OrderStatus? { system?.shop?.order(id)?.status }

    func require(_ condition: Bool, _ message: String) throws {
        if !condition { throw Failure(description: message) }
    }

    // MARK: The stories

    mutating func play() async throws -> DemoResult {
        let system = try await start()
        let where_ = plaintext ? "plain HTTP (no TLS: --plaintext)" : "HTTPS with certificates from a fresh lab CA"
        note("NetLab demo — \(options.scenario.rawValue): \(options.scenario.summary)", [
            "Every actor runs in this process on loopback, over \(where_):",
        ] + system.services.map { "  \($0.actor.rawValue.padding(toLength: 13, withPad: " ", startingAt: 0)) \($0.url)" })
        let customer = system.customer()
        switch options.scenario {
        case .cardAccept: return try await cardAccept(customer)
        case .cardDeny: return try await cardDeny(customer)
        case .fraudChallenge: return try await fraudChallenge(customer)
        case .vaTransfer: return try await vaTransfer(customer)
        case .expire: return try await expire(customer)
        case .refund: return try await refund(customer)
        case .merchantDown: return try await merchantDown(customer)
        case .forgedWebhook: return try await forgedWebhook(customer)
        case .mitm: return try await mitm(customer)
        case .gatewayRestart: return try await gatewayRestart(customer)
        case .cstore: return try await cstore(customer)
        case .qris: return try await qris(customer)
        case .savedCard: return try await savedCard(customer)
        case .gopayLinked: return try await gopayLinked(customer)
        case .subscription: return try await subscription(customer)
        }
    }

    func cardAccept(_ customer: Customer) async throws -> DemoResult {
        let bank = try system!.bank!.balance
        note("The customer buys Kopi Toraja (Rp 85.000) and pays by card 4811 1111 1111 1114", [
            "The card number goes to the gateway only (GET /v2/token with the merchant's public client key);",
            "the shop receives a token. This sandbox card asks for 3-D Secure: an OTP page at the gateway, the bank checks the OTP.",
        ])
        let order = try await customer.payByCard("kopi", card: card("4811111111111114"))
        try await webhookHandled(order.order_id, "capture")
        let received = try system!.bank!.balance.amount - bank.amount
        try require(orderStatus(order.order_id) == .paid, "the order is \(orderStatus(order.order_id)?.rawValue ?? "missing"), not paid")
        await conclude("Paid: the bank holds Rp \(received), the gateway says capture, the merchant's order is paid.", outcome: "paid")
        return DemoResult(succeeded: true, summary: "card-accept: order \(order.order_id) paid (capture), the webhook verified and confirmed")
    }

    func cardDeny(_ customer: Customer) async throws -> DemoResult {
        note("The customer pays with card 4711 1111 1111 1115, which the bank declines")
        let order = try await customer.payByCard("kopi", card: card("4711111111111115"))
        try await webhookHandled(order.order_id, "deny")
        try require(orderStatus(order.order_id) == .denied, "the order is \(orderStatus(order.order_id)?.rawValue ?? "missing"), not denied")
        await conclude("Denied: the bank said no, the gateway recorded deny, the merchant shows the order as denied (no money moved).", outcome: "denied")
        return DemoResult(succeeded: true, summary: "card-deny: order \(order.order_id) denied by the bank")
    }

    func fraudChallenge(_ customer: Customer) async throws -> DemoResult {
        note("The customer pays with card 4511 1111 1111 1117: the fraud service's rules say challenge")
        let order = try await customer.payByCard("batik", card: card("4511111111111117"))
        try require(order.status == .awaitingReview, "the order is \(order.status.rawValue), not in review")
        note("The charge is captured but flagged: the merchant's staff must review it before shipping. They approve it.")
        let (status, _) = try await system!.shop!.gateway(.post, "/v2/\(order.order_id)/approve", nil)
        try require(status == 200, "approve answered \(status)")
        try await expect("the merchant's order to become paid") { steps in
            steps.contains { $0.kind == "payment.order" && $0.title.contains(order.order_id) && $0.outcome == "paid" }
        }
        try await webhookHandled(order.order_id, "capture")
        await conclude("Approved: fraud_status accept, the order is paid.", outcome: "paid")
        return DemoResult(succeeded: true, summary: "fraud-challenge: order \(order.order_id) challenged, approved, paid")
    }

    func vaTransfer(_ customer: Customer) async throws -> DemoResult {
        note("The customer chooses bank transfer (BCA virtual account) for batik (Rp 450.000)")
        let order = try await customer.order("batik", payment: ["type": "bank_transfer", "bank": "bca"])
        guard let va = order.va_number else { throw Failure(description: "no virtual account number in the answer") }
        try await webhookHandled(order.order_id, "pending")
        note("The shop shows: transfer Rp 450.000 to BCA virtual account \(va). The customer pays at the bank's ATM.")
        try await customer.payAtBank(va)
        try await webhookHandled(order.order_id, "settlement")
        try require(orderStatus(order.order_id) == .paid, "the order is \(orderStatus(order.order_id)?.rawValue ?? "missing"), not paid")
        await conclude("Settled: the bank told the gateway, the gateway told the merchant, the order is paid.", outcome: "paid")
        return DemoResult(succeeded: true, summary: "va-transfer: order \(order.order_id) paid by VA \(va)")
    }

    func expire(_ customer: Customer) async throws -> DemoResult {
        note("A virtual account that expires in 1.5 s (Midtrans: 24 h by default)")
        let order = try await customer.order("kopi", payment: ["type": "bank_transfer", "bank": "bni"])
        guard let va = order.va_number else { throw Failure(description: "no virtual account number in the answer") }
        try await expect("the order to expire") { steps in
            steps.contains { $0.kind == "payment.order" && $0.title.contains(order.order_id) && $0.outcome == "expired" }
        }
        try await webhookHandled(order.order_id, "expire")
        note("Nobody paid in time: the gateway expired it, closed the account at the bank, and told the merchant. The customer tries to pay anyway:")
        do {
            try await customer.payAtBank(va)
            throw Failure(description: "the bank accepted a payment into an expired account")
        } catch let refused as Customer.CheckoutError {
            await conclude("The bank refuses: \(refused)", outcome: "refused")
        }
        return DemoResult(succeeded: true, summary: "expire: order \(order.order_id) expired; the late payment was refused")
    }

    func refund(_ customer: Customer) async throws -> DemoResult {
        note("A card payment (4411 1111 1111 1118, no 3-D Secure), settled the next day (here: after 1 s), then refunded")
        let order = try await customer.payByCard("kopi", card: card("4411111111111118"))
        try await expect("the settlement") { steps in
            steps.contains { $0.kind == "payment.gateway" && $0.title.contains(order.order_id) && $0.outcome == "settlement" }
        }
        try await webhookHandled(order.order_id, "settlement")
        note("The customer returns the coffee. The merchant refunds it in full.")
        let (status, answer) = try await system!.shop!.gateway(.post, "/v2/\(order.order_id)/refund",
                                                               ["refund_key": "\(order.order_id)-r1", "amount": 85000, "reason": "returned"])
        try require(status == 200, "refund answered \(status): \(answer["status_message"] ?? "")")
        try await expect("the merchant's order to be refunded") { steps in
            steps.contains { $0.kind == "payment.order" && $0.title.contains(order.order_id) && $0.outcome == "refunded" }
        }
        try await webhookHandled(order.order_id, "refund")
        await conclude("Refunded: the gateway's transaction is refund, the merchant's order is refunded.", outcome: "refunded")
        return DemoResult(succeeded: true, summary: "refund: order \(order.order_id) settled, then refunded")
    }

    func merchantDown(_ customer: Customer) async throws -> DemoResult {
        system!.shop!.setAcceptingWebhooks(false)
        note("The merchant's webhook endpoint is down for maintenance (it answers 503)")
        let order = try await customer.payByCard("kopi", card: card("4411111111111118"))
        try await expect("a webhook refused with 503") { steps in
            steps.contains { $0.kind == "http.response" && $0.from == "merchant" && $0.to == "notification" && ($0.outcome ?? "").hasPrefix("503") }
        }
        note("The notification service keeps the webhook in its outbox and retries (Midtrans: after 2, 10, 30, 90, 210 min; here compressed). The merchant comes back:")
        system!.shop!.setAcceptingWebhooks(true)
        try await webhookHandled(order.order_id, "capture")
        // The outbox records the delivery just after the merchant's answer arrives.
        var history: [OutboxEntry] = []
        for _ in 0..<500 where !history.contains(where: { $0.deliveredAt != nil && $0.attempts >= 1 }) {
            history = try system!.store!.notifications(merchantID: system!.options.merchantID, orderID: order.order_id)
            try await Task.sleep(for: .milliseconds(10))
        }
        try require(history.contains { $0.deliveredAt != nil && $0.attempts >= 1 }, "the webhook was not delivered after a retry")
        await conclude("Delivered after \(history.map(\.attempts).max() ?? 0) failed attempt(s); the order is \(orderStatus(order.order_id)?.rawValue ?? "?").", outcome: "delivered")
        return DemoResult(succeeded: true, summary: "merchant-down: the webhook for \(order.order_id) was retried and delivered")
    }

    func forgedWebhook(_ customer: Customer) async throws -> DemoResult {
        let order = try await customer.payByCard("kopi", card: card("4411111111111118"))
        try await webhookHandled(order.order_id, "capture")
        let genuine = recorder.steps.last { $0.kind == "http.request" && $0.from == "notification" && $0.to == "merchant" }
        guard let genuine, let wire = genuine.wire, let split = wire.plaintext.range(of: Data("\r\n\r\n".utf8)) else {
            throw Failure(description: "no webhook was recorded")
        }
        let body = Array(wire.plaintext[split.upperBound...])
        note("An attacker who knows the order id posts a webhook claiming a refund, signed with a guessed key")
        let attacker = HTTPClient(configuration: system!.client.configuration,
                                  connector: WireObserver(recorder: recorder, caller: "attacker").connector)
        defer { Task { await attacker.shutdown() } }
        let gross = "85000.00"
        let forgedObject: [String: Any] = [
            "order_id": order.order_id, "transaction_id": order.transaction_id ?? "", "status_code": "200", "gross_amount": gross,
            "transaction_status": "refund", "signature_key": NotificationSignature.compute(
                orderID: order.order_id, statusCode: "200", grossAmount: gross, serverKey: "SB-Mid-server-guessed"),
        ]
        let forged = try await attacker.post(system!.urls[.merchant]! + "/notifications",
                                             body: Array(try JSONSerialization.data(withJSONObject: forgedObject, options: [.sortedKeys])),
                                             fields: HTTPFields(["Content-Type": "application/json"]))
        try require(forged.status == 401, "the forged webhook got \(forged.status)")
        note("Then it replays a genuine notification it recorded earlier (same bytes, valid signature)")
        let replay = try await attacker.post(system!.urls[.merchant]! + "/notifications", body: body,
                                             fields: HTTPFields(["Content-Type": "application/json"]))
        try require(replay.status == 200, "the replay got \(replay.status)")
        try await expect("the replay to change nothing") { steps in
            steps.last { $0.kind == "payment.webhook" }?.outcome == "duplicate"
        }
        try require(orderStatus(order.order_id) == .paid, "the order changed to \(orderStatus(order.order_id)?.rawValue ?? "?")")
        await conclude("Not fooled: the forgery failed the signature check (401); the replay was confirmed with GET status and changed nothing.",
             outcome: "rejected")
        return DemoResult(succeeded: true, summary: "forged-webhook: forgery refused (401), replay changed nothing; order \(order.order_id) still paid")
    }

    func mitm(_ customer: Customer) async throws -> DemoResult {
        let system = self.system!
        let gatewayURL = system.urls[.gateway]!
        // The interceptor: a TLS server with a certificate for the same names, from a CA the
        // actors do not trust, forwarding everything to the real gateway.
        let evilCA = try LabCertificateAuthority(directory: state + "/interceptor-ca", commonName: "Totally Legit Interceptor CA")
        let leaf = try evilCA.issue(name: "interceptor")
        let forward = HTTPClient(configuration: system.client.configuration,
                                 connector: WireObserver(recorder: recorder, caller: "interceptor").connector)
        let recorder = self.recorder
        var router = Router()
        router.fallback = { request in
            Self.eavesdrop(request, recorder: recorder)
            var relayed = HTTPClientRequest(method: request.method, url: try HTTPURL(gatewayURL + request.target))
            for (name, value) in request.fields where !["host", "content-length", "connection"].contains(name.lowercased()) {
                try relayed.fields.append(name: name, value: value)
            }
            relayed.body = request.body
            let answer = try await forward.execute(relayed)
            return HTTPResponse(status: answer.status, fields: HTTPFields(["Content-Type": answer.fields["Content-Type"] ?? "application/json"]),
                                body: .bytes(answer.body))
        }
        let interceptor = HTTPServer(router: router)
        let address = try await interceptor.start(
            host: "127.0.0.1", port: 0, tls: try TLSContext(.server(certificateChainFile: leaf.certificatePath, privateKeyFile: leaf.privateKeyPath)))
        let interceptorURL = "https://127.0.0.1:\(address.port)"
        recorder.name("interceptor", at: interceptorURL)
        defer { Task { await interceptor.shutdown(gracePeriod: .zero); await forward.shutdown() } }

        note("An interceptor sits between the merchant and the gateway (a hostile Wi-Fi, a compromised router).",
             ["It answers for 127.0.0.1 with a certificate from \"Totally Legit Interceptor CA\", which nobody here trusts."])
        note("1. The merchant verifies certificates (the default): it charges through the interceptor")
        let verifying = HTTPClient(configuration: system.client.configuration, connector: WireObserver(recorder: recorder, caller: "merchant").connector)
        var charge = HTTPClientRequest(method: .post, url: try HTTPURL(interceptorURL + "/v2/charge"))
        charge.basicAuthorization(user: system.options.serverKey)
        charge.body = Array(#"{"payment_type":"bank_transfer","transaction_details":{"order_id":"mitm-1","gross_amount":85000},"bank_transfer":{"bank":"bca"}}"#.utf8)
        var refusedByTLS = false
        do { _ = try await verifying.execute(charge) } catch { refusedByTLS = true }
        await verifying.shutdown()
        try require(refusedByTLS, "the verifying merchant talked to the interceptor")
        try await expect("the TLS refusal") { steps in steps.contains { $0.kind == "tls.refused" } }

        note("2. Now verification is switched off (certificateVerification = .noneDangerous), as in too many tutorials")
        var insecure = system.client.configuration
        var tls = insecure.tls!.configuration
        tls.certificateVerification = .noneDangerous
        insecure.tls = try TLSContext(tls)
        let careless = HTTPClient(configuration: insecure, connector: WireObserver(recorder: recorder, caller: "customer").connector)
        defer { Task { await careless.shutdown() } }
        let victim = Customer(shopURL: system.urls[.merchant]!, gatewayURL: interceptorURL, bankURL: system.urls[.bank]!,
                              clientKey: system.options.clientKey, client: careless)
        let token = try await victim.tokenize(card("4411111111111118"))
        let merchantClient = HTTPClient(configuration: insecure, connector: WireObserver(recorder: recorder, caller: "merchant").connector)
        defer { Task { await merchantClient.shutdown() } }
        let shop = try MerchantShop(merchantID: system.options.merchantID, serverKey: system.options.serverKey, gatewayURL: interceptorURL,
                                    client: merchantClient)
        let (status, answer) = try await shop.gateway(.post, "/v2/charge", [
            "payment_type": "credit_card", "transaction_details": ["order_id": "mitm-2", "gross_amount": 85000],
            "credit_card": ["token_id": token, "authentication": true],
        ])
        try require(status == 200, "the charge through the interceptor answered \(status)")
        let stolen = recorder.steps.filter { $0.kind == "payment.eavesdropped" }
        try require(stolen.contains { $0.outcome == "card stolen" } && stolen.contains { $0.outcome == "server key stolen" },
                    "the interceptor did not read the card and the key")
        await conclude("The payment went through (\(answer["transaction_status"] as? String ?? "?")) and nobody noticed — but the interceptor now has the card number, its CVV and the merchant's server key (it can refund or cancel any of the merchant's payments).",
             ["(The lab shop refused the gateway's notification about mitm-2, an order it never placed: a genuine signature, nothing to apply.)",
              "The lesson: TLS protects only when the certificate is verified. Keep verification on; trust only the CA you mean to."],
             outcome: "card stolen")
        return DemoResult(succeeded: true, summary: "mitm: refused by verification; with verification off the interceptor read the card and the server key")
    }

    /// What the interceptor reads from a decrypted request.
    static func eavesdrop(_ request: HTTPRequest, recorder: DemoRecorder) {
        let query = request.queryParameters
        if let number = query["card_number"] {
            recorder.add(DemoStep(layer: .payment, kind: "payment.eavesdropped", from: "interceptor",
                                  title: "The interceptor reads the card: \(number), CVV \(query["card_cvv"] ?? "?"), expiry \(query["card_exp_month"] ?? "?")/\(query["card_exp_year"] ?? "?")",
                                  outcome: "card stolen"))
        }
        if let authorization = request.fields["Authorization"], authorization.hasPrefix("Basic "),
            let decoded = Data(base64Encoded: String(authorization.dropFirst(6))).map({ String(decoding: $0, as: UTF8.self) })
        {
            recorder.add(DemoStep(layer: .payment, kind: "payment.eavesdropped", from: "interceptor",
                                  title: "The interceptor reads the merchant's server key: \(decoded.dropLast())", outcome: "server key stolen"))
        }
    }

    mutating func gatewayRestart(_ customer: Customer) async throws -> DemoResult {
        system!.shop!.setAcceptingWebhooks(false)
        note("The merchant's webhook endpoint is busy (503), so the gateway's webhook waits in its outbox")
        let order = try await customer.order("batik", payment: ["type": "bank_transfer", "bank": "permata"])
        try await expect("a webhook refused with 503") { steps in
            steps.contains { $0.kind == "http.response" && $0.from == "merchant" && $0.to == "notification" && ($0.outcome ?? "").hasPrefix("503") }
        }
        note("The gateway process stops (here: the whole demo system stops). What it promised is in SQLite: the transaction and the outbox row.")
        var ports: [PaymentActor: UInt16] = [:]
        for (actor, url) in system!.services { ports[actor] = UInt16(url.split(separator: ":").last ?? "") }
        await system!.shutdown()
        system = nil
        let restarted = try await start(ports: ports)
        note("Started again on the same state folder and the same ports:", restarted.services.map { "  \($0.actor.rawValue) \($0.url)" })
        let kept = try restarted.store!.find(merchantID: restarted.options.merchantID, id: order.order_id)
        try require(kept?.state.status == .pending, "the restarted gateway lost transaction \(order.order_id)")
        note("The gateway still knows \(order.order_id): \(kept!.state.status.rawValue), VA \(kept!.vaNumber ?? "-"). Its outbox still owes the merchant a webhook:")
        try await webhookHandled(order.order_id, "pending")
        let refreshed = try await restarted.customer().order(status: order.order_id, refresh: true)
        try require(refreshed.transaction_status == "pending", "after the restart the shop sees \(refreshed.transaction_status ?? "nothing")")
        await conclude("Nothing was lost: the webhook queued before the stop was delivered after it, and the shop's order (kept in its own SQLite file) agrees with the gateway.",
             outcome: "recovered")
        return DemoResult(succeeded: true, summary: "gateway-restart: transaction and queued webhook survived the restart")
    }
}
