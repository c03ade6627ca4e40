import Foundation
import HTTPParser
import NetLab
import PaymentFlow
import TCPSocket

/// The shop around the student's webhook handler (``WebhookHandling``, in PaymentFlow): its
/// server key, its orders in memory, and a way to ask the gateway what is true.
public final class LabShop: WebhookShop {
    /// The merchant's secret: what signs its notifications (`signature_key`).
    public let serverKey: String
    let gatewayURL: String
    let client: HTTPClient
    private let orders = Locked<[String: WebhookOrder]>([:])
    /// Every change of an order's status, in order: "lab-5-5: paid → awaiting_payment".
    private let changes = Locked<[String]>([])

    /// A shop of `serverKey`'s merchant, asking the gateway at `gatewayURL` through `client`.
    public init(serverKey: String, gatewayURL: String, client: HTTPClient) {
        self.serverKey = serverKey
        self.gatewayURL = gatewayURL
        self.client = client
    }

    public func order(_ id: String) -> WebhookOrder? { orders.withLock { $0[id] } }

    @discardableResult
    public func setStatus(_ status: OrderStatus, of id: String) -> Bool {
        orders.withLock { orders in
            guard let old = orders[id]?.status, old != status else { return false }
            orders[id]?.status = status
            changes.withLock { $0.append("\(id): \(old.rawValue) → \(status.rawValue)") }
            return true
        }
    }

    /// How many times an order's status actually changed.
    public var changeCount: Int { changes.withLock { $0.count } }

    /// The changes from the `from`-th on ("lab-5-5: paid → awaiting_payment").
    func changes(since from: Int) -> [String] { changes.withLock { Array($0[min(from, $0.count)...]) } }

    /// Records an order the shop has placed.
    public func add(_ order: WebhookOrder) { orders.withLock { $0[order.orderID] = order } }

    /// Every order, by id.
    public var allOrders: [WebhookOrder] { orders.withLock { $0.values.sorted { $0.orderID < $1.orderID } } }

    public func gatewayStatus(_ transactionID: String) async throws -> (httpStatus: Int, fields: [String: String]) {
        var request = HTTPClientRequest(method: .get, url: try HTTPURL("\(gatewayURL)/v2/\(transactionID)/status"))
        request.basicAuthorization(user: serverKey)
        let response = try await client.execute(request)
        let object = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
        return (response.status, object.compactMapValues { $0 as? String })
    }
}

/// Lab 5's checks: the real gateway, bank and notification service on loopback over HTTPS,
/// with the student's handler as a merchant's notification endpoint.
public enum WebhooksLab {
    public static let name = LabText(en: "Payments and webhooks: the merchant's notification endpoint",
                                     id: "Pembayaran dan webhook: endpoint notifikasi milik merchant")

    public static func suite(_ handler: some WebhookHandling) -> LabSuite {
        LabSuite(number: 5, name: name, steps: [
            LabStep("5.1", LabText(en: "genuine notifications from the gateway are accepted (2xx) and move the order: pending, then paid",
                                   id: "notifikasi asli dari gateway diterima (2xx) dan mengubah order: pending, lalu lunas")) {
                try await Harness.with(handler) { h in
                    let order = try await h.virtualAccount("lab-5-1")
                    try await h.expectStatus(.awaitingPayment, of: order.orderID, after: Harness.pendingNote)
                    try await h.payAtBank(order)
                    try await h.expectStatus(.paid, of: order.orderID, after: Harness.settlementNote)
                }
            },
            LabStep("5.2", LabText(en: "a forged notification (signature made without the server key) is refused with 401 and changes nothing",
                                   id: "notifikasi palsu (tanda tangan dibuat tanpa server key) ditolak dengan 401 dan tidak mengubah apa pun")) {
                try await Harness.with(handler) { h in
                    let order = try await h.virtualAccount("lab-5-2")
                    try await h.expectStatus(.awaitingPayment, of: order.orderID, after: Harness.pendingNote)
                    let forged = h.notification(order, status: "settlement", code: "200", key: "SB-Mid-server-guessed")
                    try await h.expectAnswer(401, to: forged, what: LabText(en: "the forged notification", id: "notifikasi palsu"))
                    try h.expectUnchanged(order.orderID, .awaitingPayment)
                    try await h.expectGenuineAccepted(order)
                }
            },
            LabStep("5.3", LabText(en: "a notification whose amount was changed after signing is refused with 401",
                                   id: "notifikasi yang jumlahnya diubah setelah ditandatangani ditolak dengan 401")) {
                try await Harness.with(handler) { h in
                    let order = try await h.virtualAccount("lab-5-3")
                    try await h.expectStatus(.awaitingPayment, of: order.orderID, after: Harness.pendingNote)
                    var tampered = h.notification(order, status: "settlement", code: "200", key: h.shop.serverKey)
                    tampered["gross_amount"] = "1.00"
                    try await h.expectAnswer(401, to: tampered, what: LabText(en: "the tampered notification", id: "notifikasi yang diubah"))
                    try h.expectUnchanged(order.orderID, .awaitingPayment)
                    try await h.expectGenuineAccepted(order)
                }
            },
            LabStep("5.4", LabText(en: "a validly signed notification the gateway does not confirm (it says pending) does not mark the order paid",
                                   id: "notifikasi bertanda tangan sah yang tidak dikonfirmasi gateway (masih pending) tidak membuat order lunas")) {
                try await Harness.with(handler) { h in
                    let order = try await h.virtualAccount("lab-5-4")
                    try await h.expectStatus(.awaitingPayment, of: order.orderID, after: Harness.pendingNote)
                    let early = h.notification(order, status: "settlement", code: "200", key: h.shop.serverKey)
                    let answer = try await h.post(early)
                    guard (200..<300).contains(answer) else {
                        throw LabFailure(LabText(en: "a correctly signed notification got \(answer); answer 2xx once you have applied what the gateway says",
                                                 id: "notifikasi bertanda tangan benar mendapat \(answer); jawab 2xx setelah menerapkan apa kata gateway"))
                    }
                    try h.expectUnchanged(order.orderID, .awaitingPayment,
                                          hint: LabText(en: "confirm with shop.gatewayStatus(transaction_id) and apply what it says, not what the notification says",
                                                        id: "konfirmasi dengan shop.gatewayStatus(transaction_id) dan terapkan jawabannya, bukan isi notifikasi"))
                }
            },
            LabStep("5.5", LabText(en: "after payment, a replayed old 'pending' notification and a duplicate 'settlement' both get 2xx and change nothing",
                                   id: "setelah lunas, notifikasi 'pending' lama yang diputar ulang dan 'settlement' ganda sama-sama mendapat 2xx dan tidak mengubah apa pun")) {
                try await Harness.with(handler) { h in
                    let order = try await h.virtualAccount("lab-5-5")
                    try await h.expectStatus(.awaitingPayment, of: order.orderID, after: Harness.pendingNote)
                    try await h.payAtBank(order)
                    try await h.expectStatus(.paid, of: order.orderID, after: Harness.settlementNote)
                    var seen: [(LabText, [String])] = []
                    for (status, code, what) in [("pending", "201", LabText(en: "after the replayed 'pending'", id: "setelah 'pending' yang diputar ulang")),
                                                 ("settlement", "200", LabText(en: "after the duplicate 'settlement'", id: "setelah 'settlement' ganda"))] {
                        let before = h.shop.changeCount
                        let old = h.notification(order, status: status, code: code, key: h.shop.serverKey)
                        let answer = try await h.post(old)
                        guard (200..<300).contains(answer) else {
                            throw LabFailure(LabText(en: "a genuine (old) \(status) notification got \(answer); the gateway would retry it for hours",
                                                     id: "notifikasi \(status) asli (lama) mendapat \(answer); gateway akan mengulanginya berjam-jam"))
                        }
                        seen.append((what, h.shop.changes(since: before)))
                    }
                    let changed = seen.filter { !$0.1.isEmpty }
                    guard changed.isEmpty else {
                        func list(_ language: LabLanguage) -> String {
                            changed.map { "  \($0.0(language)): \($0.1.joined(separator: ", "))" }.joined(separator: "\n")
                        }
                        throw LabFailure(LabText(en: "the replay and the duplicate changed the order \(changed.flatMap(\.1).count) time(s):\n" + list(.en),
                                                 id: "pemutaran ulang dan duplikat mengubah order \(changed.flatMap(\.1).count) kali:\n" + list(.id)),
                                         hint: LabText(en: "set the status the gateway confirms (shop.gatewayStatus), never the one the notification carries; an order already paid stays paid",
                                                       id: "tetapkan status yang dikonfirmasi gateway (shop.gatewayStatus), jangan status yang dibawa notifikasi; order yang sudah lunas tetap lunas"))
                    }
                    try h.expectUnchanged(order.orderID, .paid)
                }
            },
            LabStep("5.6", LabText(en: "a notification for an order this shop never had is not accepted (4xx), and nothing crashes",
                                   id: "notifikasi untuk order yang tidak pernah ada di toko ini tidak diterima (4xx), dan tidak ada yang crash")) {
                try await Harness.with(handler) { h in
                    let stranger = Harness.Placed(orderID: "never-ordered", transactionID: UUID().uuidString.lowercased(), grossAmount: "10000.00", vaNumber: "")
                    let answer = try await h.post(h.notification(stranger, status: "settlement", code: "200", key: h.shop.serverKey))
                    guard (400..<500).contains(answer) else {
                        throw LabFailure(LabText(en: "a notification for an unknown order got \(answer), expected a 4xx (404 fits)",
                                                 id: "notifikasi untuk order yang tidak dikenal mendapat \(answer), seharusnya 4xx (404 cocok)"))
                    }
                    let garbage = try await h.postRaw(Array("not json at all".utf8))
                    guard (400..<500).contains(garbage) else {
                        throw LabFailure(LabText(en: "a body that is not JSON got \(garbage), expected 400", id: "body yang bukan JSON mendapat \(garbage), seharusnya 400"))
                    }
                }
            },
        ])
    }

    /// The payment system with one extra merchant whose notification URL is the handler's server.
    final class Harness: Sendable {
        struct Placed: Sendable { var orderID: String; var transactionID: String; var grossAmount: String; var vaNumber: String }

        let system: PaymentSystem
        let server: HTTPServer
        let shop: LabShop
        let merchantURL: String
        let client: HTTPClient

        static let pendingNote = LabText(en: "the gateway's pending notification", id: "notifikasi pending dari gateway")
        static let settlementNote = LabText(en: "the gateway's settlement notification", id: "notifikasi settlement dari gateway")
        static let merchantID = "G-LAB-05"
        static let serverKey = "SB-Mid-server-Lab5Student00000000"

        private init(system: PaymentSystem, server: HTTPServer, shop: LabShop, merchantURL: String, client: HTTPClient) {
            self.system = system
            self.server = server
            self.shop = shop
            self.merchantURL = merchantURL
            self.client = client
        }

        static func with(_ handler: some WebhookHandling, _ body: (Harness) async throws -> Void) async throws {
            let state = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-lab5-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: state) }
            var options = PaymentSystemOptions(stateDirectory: state)
            options.retryPolicy = RetryPolicy(delays: [.milliseconds(100), .milliseconds(200), .milliseconds(300)], jitter: false)
            options.pollInterval = .milliseconds(20)
            let system = try await PaymentSystem.start(options)
            let shop = LabShop(serverKey: serverKey, gatewayURL: system.urls[.gateway]!, client: system.client)
            var router = Router()
            router.post("/notifications") { request in
                HTTPResponse(status: await handler.handle(request.body, shop: shop), fields: HTTPFields(), body: .bytes([]))
            }
            let server = HTTPServer(router: router)
            let address = try await server.start(host: "127.0.0.1", port: 0)
            let merchantURL = "http://127.0.0.1:\(address.port)/notifications"
            try system.store!.saveMerchant(MerchantAccount(merchantID: merchantID, serverKey: serverKey, clientKey: "SB-Mid-client-Lab5Student00000000",
                                                          notificationURL: merchantURL, allowsPrivateWebhooks: true))
            let harness = Harness(system: system, server: server, shop: shop, merchantURL: merchantURL, client: system.client)
            do {
                try await body(harness)
            } catch {
                await server.shutdown(gracePeriod: .zero)
                await system.shutdown()
                throw error
            }
            await server.shutdown(gracePeriod: .zero)
            await system.shutdown()
        }

        /// A BNI virtual-account charge of Rp 25.000 for a new order of the shop.
        func virtualAccount(_ orderID: String) async throws -> Placed {
            // "created": only a handled notification makes it awaiting_payment.
            shop.add(WebhookOrder(orderID: orderID, grossAmount: "25000.00", status: .created))
            var request = HTTPClientRequest(method: .post, url: try HTTPURL(system.urls[.gateway]! + "/v2/charge"))
            request.basicAuthorization(user: Self.serverKey)
            request.body = Array(#"{"payment_type":"bank_transfer","transaction_details":{"order_id":"\#(orderID)","gross_amount":25000},"bank_transfer":{"bank":"bni"}}"#.utf8)
            let response = try await client.execute(request)
            let object = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
            guard response.status == 200, let id = object["transaction_id"] as? String,
                let va = (object["va_numbers"] as? [[String: Any]])?.first?["va_number"] as? String
            else { throw LabFailure(LabText(en: "the lab's gateway refused a charge (\(response.status)): \(response.text)", id: "gateway lab menolak charge (\(response.status)): \(response.text)")) }
            return Placed(orderID: orderID, transactionID: id, grossAmount: "25000.00", vaNumber: va)
        }

        func payAtBank(_ order: Placed) async throws {
            let response = try await client.post("\(system.urls[.bank]!)/va/\(order.vaNumber)/pay", body: [])
            guard response.status == 200 else { throw LabFailure(LabText(en: "the bank refused the payment: \(response.status)", id: "bank menolak pembayaran: \(response.status)")) }
        }

        /// Waits (up to 5 s) for the order to reach `status`, then says what the gateway saw.
        func expectStatus(_ status: OrderStatus, of orderID: String, after what: LabText) async throws {
            let deadline = ContinuousClock.now + .seconds(5)
            while ContinuousClock.now < deadline {
                if shop.order(orderID)?.status == status { return }
                try await Task.sleep(for: .milliseconds(20))
            }
            let history = (try? system.store!.notifications(merchantID: Self.merchantID, orderID: orderID)) ?? []
            let answers = history.map { "\($0.transactionStatus): \($0.lastResult ?? "not tried yet") after \($0.attempts + ($0.deliveredAt != nil ? 1 : 0)) attempt(s)" }
            throw LabFailure(
                LabText(en: "after \(what.en), the order is \(shop.order(orderID)?.status.rawValue ?? "missing"), expected \(status.rawValue)",
                        id: "setelah \(what.id), order berstatus \(shop.order(orderID)?.status.rawValue ?? "tidak ada"), seharusnya \(status.rawValue)"),
                evidence: LabText(en: "what your endpoint answered the gateway: " + (answers.isEmpty ? "nothing yet" : answers.joined(separator: "; ")),
                                 id: "jawaban endpoint Anda kepada gateway: " + (answers.isEmpty ? "belum ada" : answers.joined(separator: "; "))),
                hint: LabText(en: "check the signature, then ask shop.gatewayStatus and set the status it means (OrderStatus(transactionStatus:fraudStatus:))",
                              id: "periksa tanda tangan, lalu tanya shop.gatewayStatus dan set status yang sesuai (OrderStatus(transactionStatus:fraudStatus:))"))
        }

        func expectUnchanged(_ orderID: String, _ status: OrderStatus, hint: LabText? = nil) throws {
            guard shop.order(orderID)?.status == status else {
                throw LabFailure(LabText(en: "the order became \(shop.order(orderID)?.status.rawValue ?? "missing"); it must stay \(status.rawValue)",
                                         id: "order menjadi \(shop.order(orderID)?.status.rawValue ?? "tidak ada"); seharusnya tetap \(status.rawValue)"), hint: hint)
            }
        }

        /// A notification as the gateway would send it, signed with `key`.
        func notification(_ order: Placed, status: String, code: String, key: String) -> [String: String] {
            [
                "order_id": order.orderID, "transaction_id": order.transactionID, "status_code": code, "gross_amount": order.grossAmount,
                "transaction_status": status, "payment_type": "bank_transfer", "currency": "IDR",
                "signature_key": NotificationSignature.compute(orderID: order.orderID, statusCode: code, grossAmount: order.grossAmount, serverKey: key),
            ]
        }

        func post(_ note: [String: String]) async throws -> Int {
            try await postRaw(Array(try JSONSerialization.data(withJSONObject: note, options: [.sortedKeys])))
        }

        func postRaw(_ body: [UInt8]) async throws -> Int {
            try await client.post(merchantURL, body: body, fields: HTTPFields(["Content-Type": "application/json"])).status
        }

        /// A genuine notification (signed with the shop's key) for `order` still gets a 2xx: the
        /// endpoint refuses forgeries, not everything.
        func expectGenuineAccepted(_ order: Placed) async throws {
            let answer = try await post(notification(order, status: "pending", code: "201", key: shop.serverKey))
            guard (200..<300).contains(answer) else {
                throw LabFailure(LabText(en: "a genuine notification got \(answer) — refusing everything is not verifying",
                                         id: "notifikasi asli mendapat \(answer) — menolak semuanya bukanlah memverifikasi"))
            }
        }

        func expectAnswer(_ status: Int, to note: [String: String], what: LabText) async throws {
            let answer = try await post(note)
            guard answer == status else {
                throw LabFailure(LabText(en: "\(what.en) got \(answer), expected \(status)", id: "\(what.id) mendapat \(answer), seharusnya \(status)"),
                                 evidence: LabText(en: "signature_key = SHA-512(order_id + status_code + gross_amount + server_key); compare it with NotificationSignature.isValid",
                                                  id: "signature_key = SHA-512(order_id + status_code + gross_amount + server_key); bandingkan dengan NotificationSignature.isValid"))
            }
        }
    }
}
