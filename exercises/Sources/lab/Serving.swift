// `lab serve 3`: the student's lab 3 connection loop behind a real listener, with the lab routes
// (GET /hello, POST /echo), for curl, a browser or wrk — the load lab compares it with NetLab's
// own server (`--reference`).
import Foundation
import NetLab
import NetLabConformance
import PaymentFlow
import TCPSocket
import TLSWrapper

func serve() async -> Int32 {
    if positional().first == "5" { return await serveWebhooks() }
    guard positional().first == "3" else {
        fail("labs 3 and 5 can be served: swift run lab serve 3 [--port N] [--host ADDR] [--reference], swift run lab serve 5 --gateway URL --server-key KEY",
             "lab 3 dan 5 bisa dijalankan sebagai server: swift run lab serve 3 [--port N] [--host ALAMAT] [--reference], swift run lab serve 5 --gateway URL --server-key KEY")
    }
    let host = option("--host") ?? "127.0.0.1"
    guard let port = UInt16(option("--port") ?? "8080") else { fail("--port must be a number from 0 to 65535", "--port harus angka 0 sampai 65535") }
    let announce: @Sendable (SocketAddress, String) -> Void = { address, whose in
        print(say("serving \(whose) lab 3 server on http://\(address) — try: curl http://\(address)/hello (Ctrl-C stops)",
                  "melayani server lab 3 \(whose) di http://\(address) — coba: curl http://\(address)/hello (Ctrl-C menghentikan)"))
    }
    do {
        if flag("--reference") {
            // NetLab's whole server (its accept loop and connection handling), on the same routes.
            var router = Router()
            LabRoutes.install(into: &router)
            let netlabServer = HTTPServer(router: router)
            announce(try await netlabServer.start(host: host, port: port), say("NetLab's", "NetLab"))
            while true { try await Task.sleep(for: .seconds(3600)) }
        } else {
            try await ServerLab.serve(server, host: host, port: port) { announce($0, say("your", "Anda")) }
        }
    } catch {
        fail("could not serve on \(host):\(port): \(error)", "tidak bisa melayani di \(host):\(port): \(error)")
    }
    return 0
}

// MARK: lab serve 5

/// `lab serve 5 --gateway URL --server-key KEY`: the student's webhook handler as a real
/// merchant's notification endpoint, for the class gateway (register its URL there:
/// `netlab gateway merchant add ID --notification-url http://THIS-MACHINE:PORT/notifications
/// --allow-private-webhooks`). `POST /orders` places an order paid by bank transfer through the
/// gateway; paying its virtual account at the bank sends the webhooks the student's code handles.
func serveWebhooks() async -> Int32 {
    // The key from the environment keeps it out of `ps`; --server-key works too.
    let serverKey = ProcessInfo.processInfo.environment["NETLAB_SERVER_KEY"] ?? option("--server-key")
    guard let given = option("--gateway"), (try? HTTPURL(given)) != nil, let serverKey else {
        fail("usage: swift run lab serve 5 --gateway https://GATEWAY:8443 --cacert ca.pem [--server-key SB-Mid-server-… or NETLAB_SERVER_KEY=…] [--port 9445] [--host ADDR]",
             "pemakaian: swift run lab serve 5 --gateway https://GATEWAY:8443 --cacert ca.pem [--server-key SB-Mid-server-… atau NETLAB_SERVER_KEY=…] [--port 9445] [--host ALAMAT]")
    }
    let gateway = given.hasSuffix("/") ? String(given.dropLast()) : given
    // The class gateway's certificate is from the class CA: without it, every call would fail TLS.
    guard option("--cacert") != nil || !gateway.hasPrefix("https:") else {
        fail("an https gateway needs --cacert: the class CA the instructor handed out (ca.pem)",
             "gateway https butuh --cacert: CA kelas yang dibagikan pengajar (ca.pem)")
    }
    let host = option("--host") ?? "0.0.0.0"
    guard let port = UInt16(option("--port") ?? "9445") else { fail("--port must be a number from 0 to 65535", "--port harus angka 0 sampai 65535") }
    var configuration = HTTPClientConfiguration()
    do {
        // The class gateway's certificate is from the class CA: trust exactly that (never "anything").
        if let caFile = option("--cacert") { configuration.tls = try TLSContext(.client(trustRootsFile: caFile)) }
    } catch {
        fail("cannot use \(option("--cacert") ?? ""): \(error)", "tidak bisa memakai \(option("--cacert") ?? ""): \(error)")
    }
    let client = HTTPClient(configuration: configuration)
    let shop = LabShop(serverKey: serverKey, gatewayURL: gateway, client: client)
    let handler = webhook
    let counter = Locked(0)

    var router = Router()
    router.post("/notifications") { request in
        let status = await handler.handle(request.body, shop: shop)
        print(say("webhook → your handler answered \(status)", "webhook → handler Anda menjawab \(status)"))
        return HTTPResponse(status: status)
    }
    // The shop's own routes answer this machine only: the gateway may reach /notifications from
    // the network, nobody else may place orders under the student's key or read them.
    @Sendable func localOnly(_ request: HTTPRequest) throws {
        guard let remote = request.remoteAddress?.description, remote.hasPrefix("127.") || remote.hasPrefix("[::1]") || remote.hasPrefix("::1") else {
            throw HTTPError(status: 403, message: "orders are placed from this machine only")
        }
    }
    // JSON only: a page elsewhere cannot make a browser send it (no cross-site form posts).
    router.post("/orders") { request in
        try localOnly(request)
        try BrowserRequest.requireSameSiteJSON(request)
        struct Placing: Decodable { var gross_amount: Int; var bank: String? }
        let placing = try request.decodeJSON(Placing.self)
        guard placing.gross_amount > 0 else { throw HTTPError(status: 400, message: "gross_amount must be a positive number of rupiah") }
        let orderID = "lab5-\(counter.withLock { $0 += 1; return $0 })-\(UUID().uuidString.prefix(8).lowercased())"
        let charge: [String: Any] = [
            "payment_type": "bank_transfer", "bank_transfer": ["bank": placing.bank ?? "bca"],
            "transaction_details": ["order_id": orderID, "gross_amount": placing.gross_amount],
        ]
        var request = HTTPClientRequest(method: .post, url: try HTTPURL(gateway + "/v2/charge"))
        request.basicAuthorization(user: serverKey)
        request.body = Array(try JSONSerialization.data(withJSONObject: charge))
        try request.fields.append(name: "Content-Type", value: "application/json")
        let answer = try await client.execute(request)
        let object = (try? JSONSerialization.jsonObject(with: Data(answer.body))) as? [String: Any] ?? [:]
        guard (200..<300).contains(answer.status), object["status_code"] as? String == "201" else {
            throw HTTPError(status: 502, message: "the gateway refused the charge: \(object["status_message"] as? String ?? String(answer.status))")
        }
        shop.add(WebhookOrder(orderID: orderID, grossAmount: "\(placing.gross_amount).00", status: .awaitingPayment))
        let va = (object["va_numbers"] as? [[String: Any]])?.first?["va_number"] as? String ?? object["permata_va_number"] as? String
        print(say("order \(orderID): pay Rp \(placing.gross_amount) to virtual account \(va ?? "?")",
                  "order \(orderID): bayar Rp \(placing.gross_amount) ke virtual account \(va ?? "?")"))
        return try .json(["order_id": orderID, "va_number": va ?? "", "transaction_id": object["transaction_id"] as? String ?? ""], status: 201)
    }
    router.get("/orders") { request in
        try localOnly(request)
        return try .json(shop.allOrders.map { ["order_id": $0.orderID, "gross_amount": $0.grossAmount, "status": $0.status.rawValue] })
    }
    let server = HTTPServer(router: router)
    do {
        let address = try await server.start(host: host, port: port)
        print(say("""
            lab 5: your webhook handler is the notification endpoint on http://\(address)/notifications
              register it at the class gateway (the instructor: netlab gateway merchant add ID --notification-url http://THIS-MACHINE:\(address.port)/notifications --allow-private-webhooks)
              place an order:  curl -X POST http://127.0.0.1:\(address.port)/orders -H 'Content-Type: application/json' -d '{"gross_amount":15000}'
              see the orders:  curl http://127.0.0.1:\(address.port)/orders      (Ctrl-C stops)
            """, """
            lab 5: handler webhook Anda adalah endpoint notifikasi di http://\(address)/notifications
              daftarkan di gateway kelas (pengajar: netlab gateway merchant add ID --notification-url http://MESIN-INI:\(address.port)/notifications --allow-private-webhooks)
              buat order:      curl -X POST http://127.0.0.1:\(address.port)/orders -H 'Content-Type: application/json' -d '{"gross_amount":15000}'
              lihat order:     curl http://127.0.0.1:\(address.port)/orders      (Ctrl-C menghentikan)
            """))
        while true { try await Task.sleep(for: .seconds(3600)) }
    } catch {
        fail("could not serve on \(host):\(port): \(error)", "tidak bisa melayani di \(host):\(port): \(error)")
    }
}
