import Foundation
import HTTPParser
import NetLab
import PaymentFlow
import TLSWrapper

/// The stories of things going wrong: a merchant down, a forged webhook, an interceptor, a
/// gateway that stops mid-payment.
extension DemoContext {
    func merchantDown(_ customer: Customer) async throws -> DemoResult {
        try shop().setAcceptingWebhooks(false)
        note("The merchant's webhook endpoint is down for maintenance (it answers 503)")
        let order = try await customer.payByCard("kopi", card: card("4411111111111118"))
        try await expect("a webhook refused with 503") { steps in
            steps.contains { $0.kind == .httpResponse && $0.from == "merchant" && $0.to == "notification" && ($0.outcome ?? "").hasPrefix("503") }
        }
        note("The notification service keeps the webhook in its outbox and retries (Midtrans: after 2, 10, 30, 90, 210 min; here compressed). The merchant comes back:")
        try shop().setAcceptingWebhooks(true)
        try await webhookHandled(order.order_id, "capture")
        // The outbox records the delivery just after the merchant's answer arrives.
        var history: [OutboxEntry] = []
        for _ in 0..<500 where !history.contains(where: { $0.deliveredAt != nil && $0.attempts >= 1 }) {
            history = try store().notifications(merchantID: try running().options.merchantID, orderID: order.order_id)
            try await Task.sleep(for: .milliseconds(10))
        }
        try require(history.contains { $0.deliveredAt != nil && $0.attempts >= 1 }, "the webhook was not delivered after a retry")
        await conclude("Delivered after \(history.map(\.attempts).max() ?? 0) failed attempt(s); the order is \(orderStatus(order.order_id)?.rawValue ?? "?").", outcome: "delivered")
        return DemoResult(succeeded: true, summary: "merchant-down: the webhook for \(order.order_id) was retried and delivered")
    }

    func forgedWebhook(_ customer: Customer) async throws -> DemoResult {
        let order = try await customer.payByCard("kopi", card: card("4411111111111118"))
        try await webhookHandled(order.order_id, "capture")
        let genuine = recorder.steps.last { $0.kind == .httpRequest && $0.from == "notification" && $0.to == "merchant" }
        guard let genuine, let wire = genuine.wire, let split = wire.plaintext.range(of: Data("\r\n\r\n".utf8)) else {
            throw Failure(description: "no webhook was recorded")
        }
        let body = Array(wire.plaintext[split.upperBound...])
        note("An attacker who knows the order id posts a webhook claiming a refund, signed with a guessed key")
        let attacker = HTTPClient(configuration: try running().client.configuration,
                                  connector: WireObserver(recorder: recorder, caller: "attacker").connector)
        defer { Task { await attacker.shutdown() } }
        let gross = "85000.00"
        let forgedObject: [String: Any] = [
            "order_id": order.order_id, "transaction_id": order.transaction_id ?? "", "status_code": "200", "gross_amount": gross,
            "transaction_status": "refund", "signature_key": NotificationSignature.compute(
                orderID: order.order_id, statusCode: "200", grossAmount: gross, serverKey: "SB-Mid-server-guessed"),
        ]
        let forged = try await attacker.post(try url(.merchant) + "/notifications",
                                             body: Array(try JSONSerialization.data(withJSONObject: forgedObject, options: [.sortedKeys])),
                                             fields: HTTPFields(["Content-Type": "application/json"]))
        try require(forged.status == 401, "the forged webhook got \(forged.status)")
        note("Then it replays a genuine notification it recorded earlier (same bytes, valid signature)")
        let replay = try await attacker.post(try url(.merchant) + "/notifications", body: body,
                                             fields: HTTPFields(["Content-Type": "application/json"]))
        try require(replay.status == 200, "the replay got \(replay.status)")
        try await expect("the replay to change nothing") { steps in
            steps.last { $0.kind == .paymentWebhook }?.outcome == "duplicate"
        }
        try require(orderStatus(order.order_id) == .paid, "the order changed to \(orderStatus(order.order_id)?.rawValue ?? "?")")
        await conclude("Not fooled: the forgery failed the signature check (401); the replay was confirmed with GET status and changed nothing.",
             outcome: "rejected")
        return DemoResult(succeeded: true, summary: "forged-webhook: forgery refused (401), replay changed nothing; order \(order.order_id) still paid")
    }

    func mitm(_ customer: Customer) async throws -> DemoResult {
        let system = try running()
        let gatewayURL = try url(.gateway)
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
        try await expect("the TLS refusal") { steps in steps.contains { $0.kind == .tlsRefused } }

        note("2. Now verification is switched off (certificateVerification = .noneDangerous), as in too many tutorials")
        var insecure = system.client.configuration
        guard var tls = insecure.tls?.configuration else { throw Failure(description: "the demo's client has no TLS to switch off") }
        tls.certificateVerification = .noneDangerous
        insecure.tls = try TLSContext(tls)
        let careless = HTTPClient(configuration: insecure, connector: WireObserver(recorder: recorder, caller: "customer").connector)
        defer { Task { await careless.shutdown() } }
        let victim = Customer(shopURL: try url(.merchant), gatewayURL: interceptorURL, bankURL: try url(.bank),
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
        let stolen = recorder.steps.filter { $0.kind == .paymentEavesdropped }
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
            recorder.add(DemoStep(layer: .payment, kind: .paymentEavesdropped, from: "interceptor",
                                  title: "The interceptor reads the card: \(number), CVV \(query["card_cvv"] ?? "?"), expiry \(query["card_exp_month"] ?? "?")/\(query["card_exp_year"] ?? "?")",
                                  outcome: "card stolen"))
        }
        if let authorization = request.fields["Authorization"], authorization.hasPrefix("Basic "),
            let decoded = Data(base64Encoded: String(authorization.dropFirst(6))).map({ String(decoding: $0, as: UTF8.self) })
        {
            recorder.add(DemoStep(layer: .payment, kind: .paymentEavesdropped, from: "interceptor",
                                  title: "The interceptor reads the merchant's server key: \(decoded.dropLast())", outcome: "server key stolen"))
        }
    }

    mutating func gatewayRestart(_ customer: Customer) async throws -> DemoResult {
        try shop().setAcceptingWebhooks(false)
        note("The merchant's webhook endpoint is busy (503), so the gateway's webhook waits in its outbox")
        let order = try await customer.order("batik", payment: ["type": "bank_transfer", "bank": "permata"])
        try await expect("a webhook refused with 503") { steps in
            steps.contains { $0.kind == .httpResponse && $0.from == "merchant" && $0.to == "notification" && ($0.outcome ?? "").hasPrefix("503") }
        }
        note("The gateway process stops (here: the whole demo system stops). What it promised is in SQLite: the transaction and the outbox row.")
        var ports: [PaymentActor: UInt16] = [:]
        for (actor, url) in try running().services { ports[actor] = UInt16(url.split(separator: ":").last ?? "") }
        await system?.shutdown()
        system = nil
        // Said before the start: the restarted services may deliver the webhook at once.
        note("Starting again on the same state folder and the same ports")
        let restarted = try await start(ports: ports)
        note("Serving again:", restarted.services.map { "  \($0.actor.rawValue) \($0.url)" })
        guard let kept = try store().find(merchantID: restarted.options.merchantID, id: order.order_id), kept.state.status == .pending else {
            throw Failure(description: "the restarted gateway lost transaction \(order.order_id)")
        }
        note("The gateway still knows \(order.order_id): \(kept.state.status.rawValue), VA \(kept.vaNumber ?? "-"). Its outbox still owes the merchant a webhook:")
        try await webhookHandled(order.order_id, "pending")
        let refreshed = try await restarted.customer().order(status: order.order_id, refresh: true)
        try require(refreshed.transaction_status == "pending", "after the restart the shop sees \(refreshed.transaction_status ?? "nothing")")
        await conclude("Nothing was lost: the webhook queued before the stop was delivered after it, and the shop's order (kept in its own SQLite file) agrees with the gateway.",
             outcome: "recovered")
        return DemoResult(succeeded: true, summary: "gateway-restart: transaction and queued webhook survived the restart")
    }
}
