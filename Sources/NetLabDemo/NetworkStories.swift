import Foundation
import HTTPParser
import LabNetwork
import NetLab
import PaymentFlow
import TCPSocket
import TLSWrapper

/// The stories only a real network can tell (`netlab demo --net`): each actor on a host of its
/// own, and NetLab's router making the links slow, lossy or cut while the payment goes on.
extension DemoContext {
    struct NetworkNeeded: Error, CustomStringConvertible {
        let scenario: DemoScenario
        var description: String {
            "the \(scenario.rawValue) story needs the lab network: run `sudo netlab demo --net --scenario \(scenario.rawValue)`"
        }
    }

    /// The network and its router, or the error that says how to get them.
    func labNetwork() throws -> (topology: Topology, router: LinkEmulator) {
        guard let topology = options.network, let router = options.router else { throw NetworkNeeded(scenario: options.scenario) }
        return (topology, router)
    }

    // MARK: lossy-checkout

    func lossyCheckout(_ customer: Customer) async throws -> DemoResult {
        let (topology, router) = try labNetwork()
        let gatewayBefore = try await TCPCounters.read(in: topology.namespace(of: .gateway))
        let given = router.impairments[.customer] ?? .none
        router.setImpairment(LinkImpairment(delay: .milliseconds(20), loss: 0.05), for: .customer)
        defer { router.setImpairment(given, for: .customer) }
        note("The customer's link loses 5 % of its packets (and takes 20 ms each way)", [
            "TCP numbers every byte and the receiver acknowledges what arrived; a segment whose ACK does not come back in time",
            "(the RTO) is sent again, and duplicate ACKs trigger a fast retransmit sooner. Watch the RTT and window in TCP_INFO,",
            "and the retransmissions in the sender's counters.",
        ])
        let before = try bank().balance.amount
        guard let gateway = system?.services.first(where: { $0.actor == .gateway })?.url else { throw Failure(description: "no gateway") }
        var loaded = 0
        for _ in 0..<16 { loaded += try await customer.load(gateway + "/snap/assets/snap-page.js") }
        let gatewayAfter = try await TCPCounters.read(in: topology.namespace(of: .gateway))
        let resent = gatewayAfter.segmentsRetransmitted - gatewayBefore.segmentsRetransmitted
        let sent = gatewayAfter.segmentsSent - gatewayBefore.segmentsSent
        note("The customer's browser loaded Snap's payment page script sixteen times (\(loaded) bytes); the gateway's host sent \(resent) segments again", [
            "The gateway's TCP counters (netstat -s, read in its namespace): \(sent) segments sent, \(resent) retransmitted — the lost ones.",
            "The customer's TCP_INFO above counts only what the customer sent again: a lost segment is resent by its sender,",
            "and the receiver only notices a gap (it acknowledges what came in order; SACK tells the sender what is missing).",
        ])
        let order = try await customer.payByCard("kopi", card: card("4411111111111118"))
        try await expect("the order to be paid", limit: .seconds(60)) { steps in
            steps.contains { if case .orderStatus(order.order_id, _, .paid)? = $0.event { true } else { false } }
        }
        note("The payment completed across the lossy link: TCP hid every loss from HTTP, TLS and the payment.")

        note("Now the shop's own charge request, retried: its answer is lost on a bad link, so the shop cannot tell whether the charge happened", [
            "It sends the same request again with the same Idempotency-Key header: the gateway answers the first charge's result",
            "instead of charging twice (Midtrans keeps the key's answer for a while).",
        ])
        let shop = try shop()
        let token = try await customer.tokenize(card("4411111111111118"))
        let retriedOrder = "RETRY-\(order.order_id)"
        let body: [String: Any] = [
            "payment_type": "credit_card", "transaction_details": ["order_id": retriedOrder, "gross_amount": 85000],
            "credit_card": ["token_id": token],
        ]
        let key = [("Idempotency-Key", "charge-\(retriedOrder)")]
        let (firstStatus, first) = try await shop.gateway(.post, "/v2/charge", body, fields: key)
        let (againStatus, again) = try await shop.gateway(.post, "/v2/charge", body, fields: key)
        let firstID = first["transaction_id"] as? String, againID = again["transaction_id"] as? String
        try require(firstStatus == 200 && againStatus == 200 && firstID != nil && firstID == againID,
                    "the retried charge was answered \(againStatus) \(againID ?? "-") after \(firstStatus) \(firstID ?? "-")")
        let charged = try bank().balance.amount - before
        try require(charged == 170_000, "the bank holds Rp \(charged) for two orders of Rp 85.000")
        let counters = router.linkCounters[.customer] ?? LinkEmulator.LinkCounters()
        await conclude(
            "Paid once per order: the retried charge got transaction \(firstID ?? "-") again, and the bank holds Rp \(charged) for the two orders.",
            ["NetLab's router dropped \(counters.dropped) of the \(counters.received) packets the customer sent (and some sent to it);",
             "each end's TCP sent its lost segments again, so every byte arrived, once and in order."],
            outcome: "paid")
        return DemoResult(succeeded: true, summary: "lossy-checkout: order \(order.order_id) paid over a 5 % lossy link; a retried charge was not charged twice")
    }

    // MARK: slow-bank

    func slowBank(_ customer: Customer) async throws -> DemoResult {
        let (_, router) = try labNetwork()
        let timeout = Self.serviceCallTimeout
        note("First a payment on a healthy network: the gateway's connection to the bank is open (and kept open) after it")
        let warmUp = try await customer.payByCard("kopi", card: card("4411111111111118"))
        try require(warmUp.status == .paid, "the first payment is \(warmUp.status.rawValue), not paid")
        let given = router.impairments[.bank] ?? .none
        router.setImpairment(LinkImpairment(delay: .seconds(3)), for: .bank)
        defer { router.setImpairment(given, for: .bank) }
        note("The bank's link slows to 3 s each way; the gateway waits \(LinkImpairment.text(timeout)) for the bank", [
            "A card charge asks the bank to authorise the card. The request arrives after 3 s, the answer after 6 s:",
            "the gateway has given up by then. Did the bank take the money? The gateway cannot know — the charge is in doubt.",
        ])
        let before = try bank().balance.amount
        var answer = ""
        var paid = false
        do {
            let order = try await customer.payByCard("kopi", card: card("4411111111111118"))
            answer = "order \(order.order_id) \(order.status.rawValue): \"\(order.message ?? "")\""
            paid = order.status == .paid
        } catch let refused as Customer.CheckoutError {
            answer = "\(refused)"
        }
        try require(!paid, "an answer the gateway never had cannot make the order paid")
        note("The customer is told the truth: \(answer)", [
            "The gateway answered the shop with a 5xx and that message: it recorded the charge as failed",
            "and owes the bank a reversal, so whatever the bank did is undone.",
        ])
        try await expect("the bank to act on the late request", limit: .seconds(30)) { steps in
            steps.contains { step in if case .bank(_, let change)? = step.event { change.contains("approved") } else { false } }
        }
        note("The bank approved the card after all (the request was only late): money is held that nobody will keep.")
        router.setImpairment(given, for: .bank)
        note("The bank's link recovers. The gateway's timers retry what it owes the bank.")
        try await expect("the reversal at the bank", limit: .seconds(30)) { steps in
            steps.contains { step in if case .bank(_, let change)? = step.event { change.hasPrefix("reversed") } else { false } }
        }
        let held = try bank().balance.amount - before
        try require(held == 0, "the bank still holds Rp \(held)")
        await conclude("Reversed: the bank gave the money back; nothing was charged, and the customer was told so at once.",
                       ["A timeout is not a \"no\": an answer in doubt is settled by undoing it (a reversal) or by asking again, never by guessing."],
                       outcome: "reversed")
        return DemoResult(succeeded: true, summary: "slow-bank: the bank answered too late; the charge failed honestly and was reversed at the bank")
    }

    // MARK: partition

    func partition(_ customer: Customer) async throws -> DemoResult {
        let (_, router) = try labNetwork()
        note("The customer orders batik and chooses a BCA virtual account (the network is whole)")
        let placed = try await customer.order("batik", payment: ["type": "bank_transfer", "bank": "bca"])
        guard let va = placed.va_number else { throw Failure(description: "no virtual account number in the answer") }
        router.cut(.gateway, .bank)
        defer { router.heal(.gateway, .bank) }
        note("The route between the gateway and the bank fails: their packets to each other are lost (both still reach everyone else)")

        note("Another customer pays by card meanwhile: the gateway cannot reach the bank")
        let refused: String
        do {
            let order = try await customer.payByCard("kopi", card: card("4411111111111118"))
            refused = "order \(order.order_id) \(order.status.rawValue): \"\(order.message ?? "")\""
        } catch let error as Customer.CheckoutError {
            refused = "\(error)"
        }
        note("Answered with a 5xx, as Midtrans does when a bank is unreachable: \(refused)")

        note("The first customer pays the virtual account \(va) at the bank's ATM: the bank takes the money and must tell the gateway")
        // The ATM's answer waits for the notice (the bank answers once the gateway has heard).
        let atm = Task { try await customer.payAtBank(va) }
        defer { atm.cancel() }  // on the way out after a failure: the ATM's wait ends too
        try await expect("the bank to take the money", limit: .seconds(20)) { steps in
            steps.contains { step in if case .bank(_, let change)? = step.event { change.contains(va) && change.contains("received") } else { false } }
        }
        note("The bank's notice cannot reach the gateway; the bank keeps it and tries again, waiting longer each time")
        try await Task.sleep(for: .seconds(3))
        try require(orderStatus(placed.order_id) != .paid, "the order is paid though the gateway never heard of the payment")

        router.heal(.gateway, .bank)
        note("The route comes back.")
        try await expect("the merchant's order to be paid", limit: .seconds(40)) { steps in
            steps.contains { if case .orderStatus(placed.order_id, _, .paid)? = $0.event { true } else { false } }
        }
        try await atm.value
        try await webhookHandled(placed.order_id, "settlement")
        await conclude("Recovered: the bank's retried notice reached the gateway, which settled the order and told the merchant.",
                       ["Nothing was lost while the network was split: the bank kept its notice, the gateway its outbox."],
                       outcome: "paid")
        return DemoResult(succeeded: true, summary: "partition: a 5xx while the bank was unreachable; VA \(va) paid during the split, settled after it healed")
    }

    // MARK: handshake-rtt

    func handshakeRTT(_ customer: Customer) async throws -> DemoResult {
        let (topology, router) = try labNetwork()
        let given = router.impairments[.customer] ?? .none
        router.setImpairment(LinkImpairment(delay: .milliseconds(75)), for: .customer)
        defer { router.setImpairment(given, for: .customer) }
        note("The customer's link takes 75 ms each way: every round trip (RTT) to another host takes at least 150 ms", [
            "Count the round trips one HTTPS request costs: TCP's handshake, then TLS 1.3's, then the request itself.",
        ])
        guard let gateway = system?.services.first(where: { $0.actor == .gateway })?.url, let url = try? HTTPURL(gateway),
            let caPath = system?.caCertificatePath
        else { throw Failure(description: "the gateway's URL or the lab CA is missing") }
        var configuration = TLSConfiguration.client(trustRootsFile: caPath)
        configuration.keyLog = options.keyLog
        let tls = try TLSContext(configuration)
        let address = try SocketAddress(ipAddress: url.host, port: url.port)
        let namespace = topology.namespace(of: .customer)

        func milliseconds(_ since: ContinuousClock.Instant) -> Int {
            let elapsed = ContinuousClock.now - since
            return Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
        }
        func rtts(_ ms: Int) -> String { "\(ms) ms ≈ \(String(format: "%.1f", Double(ms) / 150)) RTT" }

        /// One request on `stream`, answered in full; returns how long it took.
        func exchange(_ stream: TLSStream) async throws -> Int {
            let start = ContinuousClock.now
            try await stream.write("GET /v2/token HTTP/1.1\r\nHost: \(url.hostField)\r\n\r\n")
            var parser = HTTPMessageParser(parsing: .responses)
            parser.expectResponse(to: .get)
            var buffer: [UInt8] = []
            while true {
                buffer.removeAll(keepingCapacity: true)
                guard case .bytes = try await stream.read(into: &buffer, maxBytes: 16_384, deadline: .after(.seconds(20))) else {
                    throw Failure(description: "the gateway closed the connection")
                }
                parser.receive(buffer)
                while let event = try parser.nextEvent() { if case .endOfMessage = event { return milliseconds(start) } }
            }
        }

        /// A new connection: TCP, then TLS; the times of each and the handshake's bytes.
        func connect() async throws -> (stream: TLSStream, tcp: Int, tls: Int, received: Int) {
            var start = ContinuousClock.now
            let connection = try await AsyncTCPConnection.connect(to: address, timeout: .seconds(20), in: namespace)
            let tcp = milliseconds(start)
            // As NetLab's HTTP client does: without it, Nagle's algorithm holds the request back
            // until the TLS Finished before it is acknowledged — one more round trip.
            try connection.setNoDelay()
            let tap = Wiretap(layer: "tcp")
            start = .now
            // By name (SNI), so the session ticket is kept for it and offered next time.
            let stream = try await TLSStream.connect(over: tap.tapping(connection), context: tls, serverName: "gateway")
            return (stream, tcp, milliseconds(start), tap.bytes(.inbound).count)
        }

        let fresh = try await connect()
        let first = try await exchange(fresh.stream)
        note("A new connection: TCP handshake \(rtts(fresh.tcp)), TLS 1.3 handshake \(rtts(fresh.tls)), the request \(rtts(first))", [
            "TCP: SYN → SYN-ACK ← (the client may send once the SYN-ACK is in: 1 RTT).",
            "TLS 1.3: ClientHello → ServerHello … Finished ← (1 RTT; TLS 1.2 needed 2). The server sent \(fresh.received) bytes: its certificate chain among them.",
            "HTTP: the request → the answer ← (1 RTT). In all \(fresh.tcp + fresh.tls + first) ms before the first answer: three round trips.",
        ])
        let kept = try await exchange(fresh.stream)
        note("The same connection again (keep-alive): \(rtts(kept))", [
            "No handshake at all: one round trip. This is why clients keep connections open (HTTP/1.1's default).",
        ])
        let tickets = fresh.stream.sessionTicketsReceived
        await fresh.stream.close()
        let resumed = try await connect()
        let third = try await exchange(resumed.stream)
        try require(resumed.stream.facts.resumed, "the second connection did not resume the session (\(tickets) tickets received)")
        note("A new connection that resumes the TLS session: TCP \(rtts(resumed.tcp)), TLS \(rtts(resumed.tls)), the request \(rtts(third))", [
            "The client offered one of the \(tickets) session tickets the server sent after the first handshake (RFC 8446 §2.2).",
            "Still one round trip for TLS, but the server sent \(resumed.received) bytes instead of \(fresh.received): no certificate, no signature to verify.",
            "(0-RTT early data would save that round trip too, at the price of replayable requests; NetLab does not send it.)",
        ])
        await resumed.stream.close()
        await conclude(
            "One request: 3 RTT on a new connection, 1 RTT on a kept one, 3 RTT resumed (with less to send and check).",
            ["At 150 ms per round trip: \(fresh.tcp + fresh.tls + first) ms fresh, \(kept) ms kept, \(resumed.tcp + resumed.tls + third) ms resumed."],
            outcome: "measured")
        return DemoResult(succeeded: true, summary: "handshake-rtt: \(fresh.tcp + fresh.tls + first) ms fresh, \(kept) ms keep-alive, \(resumed.tcp + resumed.tls + third) ms resumed at 150 ms RTT")
    }

    /// How long services wait for each other in the network stories (shorter than the slow
    /// link's delay, so the timeout is what the story shows).
    static var serviceCallTimeout: Duration { .seconds(2) }
}
