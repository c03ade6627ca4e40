import Foundation
import HTTPParser
import NetLab
import TCPSocket
import TLSWrapper

/// Watches every connection an actor's HTTP client opens, at each layer:
///
/// ```
///   HTTP messages ── parsed here from the plaintext (NetLab's own parser) ── http.request / http.response
///   TLSStream     ── its facts after the handshake ─────────────────────────── tls.handshake
///   tap           ── the bytes below TLS (records) ─────────────────────────── the wiretap's ciphertext
///   TCP           ── connect(): both addresses ─────────────────────────────── tcp.connect
/// ```
///
/// It is an ``HTTPClient/Connector``: the client asks it for a stream to a URL, and gets one
/// that behaves exactly like the normal one, with observers in the path.
public struct WireObserver: Sendable {
    let recorder: DemoRecorder
    /// Who uses this client (the `from` of its requests).
    let caller: String
    /// Each answer's step also shows the connection's TCP_INFO (on the lab network, where
    /// round trips, windows and retransmissions are worth reading).
    let showsTCPInfo: Bool

    public init(recorder: DemoRecorder, caller: String, showsTCPInfo: Bool = false) {
        self.recorder = recorder
        self.caller = caller
        self.showsTCPInfo = showsTCPInfo
    }

    public var connector: HTTPClient.Connector {
        { url, deadline, client in try await connect(url, deadline: deadline, client: client) }
    }

    func connect(_ url: HTTPURL, deadline: Deadline, client: HTTPClient) async throws -> any ByteStream {
        let tcp = try await client.connectTCP(url, deadline: deadline)
        let target = recorder.actor(host: url.host, port: url.port)
        if let connection = tcp as? AsyncTCPConnection {
            recorder.add(DemoStep(
                layer: .tcp, kind: .tcpConnect, from: caller, to: target,
                title: "TCP connect \(connection.localAddress) → \(connection.remoteAddress)",
                details: ["socket() + connect(): the three-way handshake (SYN, SYN-ACK, ACK) opens a byte stream",
                          "\(caller) is \(connection.localAddress) (a port the kernel chose), \(target) is \(connection.remoteAddress)"],
                outcome: "connected"))
        }
        let below = Wiretap(layer: "tcp")
        let tapped = below.tapping(tcp)
        guard url.scheme == .https else {
            return ObservedHTTPStream(inner: tapped, below: nil, recorder: recorder, caller: caller, target: target,
                                      tcp: showsTCPInfo ? tcp as? AsyncTCPConnection : nil)
        }
        do {
            let context = try client.configuration.tls ?? TLSContext(.client())
            let secure = try await TLSStream.connect(over: tapped, context: context, serverName: url.host, deadline: deadline)
            recorder.add(handshakeStep(secure.facts, records: below, target: target, context: context))
            return ObservedHTTPStream(inner: secure, below: below, recorder: recorder, caller: caller, target: target,
                                      tcp: showsTCPInfo ? tcp as? AsyncTCPConnection : nil)
        } catch {
            let records = TLSRecordSummary.parse(below.bytes(.inbound))
            recorder.add(DemoStep(
                layer: .tls, kind: .tlsRefused, from: caller, to: target, title: "TLS handshake refused by \(caller)",
                details: ["\(error)",
                          "\(caller) sent its ClientHello; \(target) answered with \(records.count) record(s), and the handshake stopped there.",
                          "No request was sent: nothing of the payment left \(caller)."],
                outcome: "refused"))
            await tcp.close()
            throw error
        }
    }

    private func handshakeStep(_ facts: TLSConnectionFacts, records tap: Wiretap, target: String, context: TLSContext) -> DemoStep {
        let out = TLSRecordSummary.parse(tap.bytes(.outbound)), back = TLSRecordSummary.parse(tap.bytes(.inbound))
        var details = [
            "ClientHello → (\(out.first.map { "\($0.length + 5) bytes" } ?? "-")): TLS versions, cipher suites, key share, \(facts.serverName.map { "SNI \($0)" } ?? "no SNI (an IP address is never sent as a server name, RFC 6066 §3)"), ALPN http/1.1",
            "← ServerHello, EncryptedExtensions, Certificate, CertificateVerify, Finished (\(back.count) records, \(back.reduce(0) { $0 + $1.length + 5 }) bytes)",
            "version \(facts.version), cipher suite \(facts.cipherSuite), ALPN \(facts.applicationProtocol ?? "-")\(facts.resumed ? ", resumed session" : "")",
        ]
        if let peer = facts.peerCertificate {
            details.append("certificate: subject \(peer.subject)")
            details.append("             issuer \(peer.issuer), valid \(peer.notBefore) … \(peer.notAfter)")
            details.append("             names \(peer.subjectAlternativeNames.joined(separator: ", "))")
        }
        let verified = context.configuration.certificateVerification == .fullVerification
        details.append(verified ? "verified: the chain ends at the trusted lab CA and the certificate names \(facts.serverName ?? "the host")"
                                : "NOT verified: certificate checks are switched off — anyone could be on the other end")
        return DemoStep(layer: .tls, kind: .tlsHandshake, from: caller, to: target,
                        title: "TLS handshake \(caller) ⇄ \(target): \(facts.version)", details: details,
                        outcome: verified ? "verified" : "unverified")
    }
}

/// The client's stream with NetLab's HTTP parser watching both directions: each complete
/// message becomes a step, with its plaintext and the TLS records that carried it.
final class ObservedHTTPStream: ByteStream, Sendable {
    private struct Side {
        var parser: HTTPMessageParser
        var plaintext: [UInt8] = []
        var head: String = ""
        var status: Int?
        var body: [UInt8] = []
        var cipherTaken = 0
        /// TLS 1.3 session tickets already said to have arrived (the inbound side's).
        var ticketsShown = 0
    }

    let inner: any ByteStream
    let below: Wiretap?
    let recorder: DemoRecorder
    let caller: String
    let target: String
    /// [0]: what we send (requests), [1]: what we receive (responses).
    private let sides = Locked([Side(parser: HTTPMessageParser(parsing: .requests)), Side(parser: HTTPMessageParser(parsing: .responses))])

    /// The TCP connection underneath, when its TCP_INFO is shown with each answer.
    let tcp: AsyncTCPConnection?

    init(inner: any ByteStream, below: Wiretap?, recorder: DemoRecorder, caller: String, target: String, tcp: AsyncTCPConnection? = nil) {
        self.tcp = tcp
        self.inner = inner
        self.below = below
        self.recorder = recorder
        self.caller = caller
        self.target = target
        // The handshake's records are shown with the handshake, not with the first message.
        if let below {
            let (sent, received) = (below.bytes(.outbound).count, below.bytes(.inbound).count)
            sides.withLock { sides in
                sides[0].cipherTaken = sent
                sides[1].cipherTaken = received
            }
        }
    }

    func read(into buffer: inout [UInt8], maxBytes: Int, deadline: Deadline) async throws -> ReadResult {
        let start = buffer.count
        let result = try await inner.read(into: &buffer, maxBytes: maxBytes, deadline: deadline)
        if case .bytes = result { observe(Array(buffer[start...]), outbound: false) }
        return result
    }

    func write(_ bytes: [UInt8], deadline: Deadline) async throws {
        // Numbered before it leaves (the receiver may act on it before `write` returns), recorded
        // after (when the TLS records that carried it are known).
        let slots = parse(bytes, outbound: true).map { ($0, recorder.reserve()) }
        do {
            try await inner.write(bytes, deadline: deadline)
        } catch {
            for (message, slot) in slots { record(message, outbound: true, slot: slot) }
            throw error
        }
        for (message, slot) in slots { record(message, outbound: true, slot: slot) }
    }

    func shutdownWrite() async throws { try await inner.shutdownWrite() }
    var preferredExecutor: (any TaskExecutor)? { inner.preferredExecutor }
    func close() async { await inner.close() }
    func abort() async { await inner.abort() }

    private func observe(_ bytes: [UInt8], outbound: Bool) {
        for message in parse(bytes, outbound: outbound) { record(message, outbound: outbound, slot: recorder.reserve()) }
    }

    private typealias Message = (head: String, status: Int?, body: [UInt8], plain: [UInt8])

    /// Feeds `bytes` to that direction's parser; returns the messages they complete.
    private func parse(_ bytes: [UInt8], outbound: Bool) -> [Message] {
        sides.withLock { sides -> [(head: String, status: Int?, body: [UInt8], plain: [UInt8])] in
            let index = outbound ? 0 : 1
            sides[index].plaintext += bytes
            sides[index].parser.receive(bytes)
            var done: [(String, Int?, [UInt8], [UInt8])] = []
            while let event = try? sides[index].parser.nextEvent() {
                switch event {
                case .requestHead(let head):
                    sides[index].head = "\(head.method) \(head.target) \(head.version)\n\(head.fields)"
                    // The response parser must know the method (a HEAD answer has no body).
                    sides[1].parser.expectResponse(to: head.method)
                case .responseHead(let head):
                    sides[index].head = "\(head.version) \(head.status) \(head.reason)\n\(head.fields)"
                    sides[index].status = head.status
                case .body(let piece): sides[index].body += piece
                case .endOfMessage:
                    done.append((sides[index].head, sides[index].status, sides[index].body, sides[index].plaintext))
                    sides[index].plaintext = []
                    sides[index].body = []
                    sides[index].status = nil
                default: break
                }
            }
            return done
        }
    }

    private func record(_ message: Message, outbound: Bool, slot: Int) {
        var cipher: [UInt8]?
        if let below {
            let all = below.bytes(outbound ? .outbound : .inbound)
            cipher = sides.withLock { sides in
                let index = outbound ? 0 : 1
                defer { sides[index].cipherTaken = all.count }
                return Array(all[min(sides[index].cipherTaken, all.count)...])
            }
        }
        let headLines = message.head.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            guard line.lowercased().hasPrefix("authorization:") else { return String(line) }
            // The scheme as sent (Basic from a merchant, Bearer from the gateway to the bank); the
            // secret never printed.
            let scheme = line.dropFirst("authorization:".count).split(separator: " ").first.map(String.init) ?? ""
            return "Authorization: \(scheme) " + (scheme.lowercased() == "basic" ? "[a server key, base64: redacted]" : "[a secret key: redacted]")
        }
        let json = (try? JSONSerialization.jsonObject(with: Data(message.body))) as? [String: Any]
        var details = headLines.filter { !$0.isEmpty }
        if let json, let pretty = try? JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys]) {
            details.append("")
            details += String(decoding: pretty, as: UTF8.self).split(separator: "\n").map(String.init)
        } else if !message.body.isEmpty {
            let text = String(decoding: message.body.prefix(160), as: UTF8.self).replacingOccurrences(of: "\n", with: " ")
            details.append("")
            details.append("(\(message.body.count) bytes) \(text)\(message.body.count > 160 ? " …" : "")")
        }
        var tickets = 0
        if let cipher {
            let records = TLSRecordSummary.parse(cipher)
            details.append("")
            details.append("on the wire: \(cipher.count) bytes in \(records.count) TLS record(s) (\(Set(records.map(\.name)).sorted().joined(separator: ", "))) — opaque without the keys")
            // TLS 1.3 sends the session tickets after the handshake, with the first answer.
            if !outbound, let tls = inner as? TLSStream {
                let total = tls.sessionTicketsReceived
                let new = sides.withLock { sides in
                    defer { sides[1].ticketsShown = total }
                    return total - sides[1].ticketsShown
                }
                tickets = max(0, new)
                if new > 0 {
                    details.append("\(new) of these record(s) are the server's TLS 1.3 session tickets (NewSessionTicket, RFC 8446 §4.6.1), encrypted like data: a client may resume a later connection with one and skip the certificate")
                }
            }
        } else {
            details.append("")
            details.append("on the wire: these \(message.plain.count) bytes exactly as shown — no TLS, anyone on the path reads them")
        }
        if !outbound, let tcp, let info = try? tcp.tcpInfo() {
            details.append("")
            details.append("TCP_INFO of \(caller)'s connection \(tcp.localAddress) → \(tcp.remoteAddress), after this answer:")
            details.append("  \(info)")
        }
        var wire = DemoWire(plaintext: message.plain, ciphertext: cipher, sensitive: recorder.sensitive)
        wire.sessionTickets = tickets
        let firstLine = message.head.prefix { $0 != "\n" }
        if outbound {
            recorder.fill(slot, with: DemoStep(layer: .http, kind: .httpRequest, from: caller, to: target,
                                  title: "\(caller) → \(target): \(firstLine.split(separator: " ").dropLast().joined(separator: " ").prefix(90))"
                                      + webhookLabel(json),
                                  details: details, outcome: nil, wire: wire))
        } else {
            let outcome = json?["transaction_status"] as? String ?? json?["fraud_status"] as? String ?? json?["result"] as? String
            recorder.fill(slot, with: DemoStep(layer: .http, kind: .httpResponse, from: target, to: caller,
                                  title: "\(target) → \(caller): \(firstLine.split(separator: " ").dropFirst().joined(separator: " "))",
                                  details: details, outcome: [message.status.map(String.init), outcome].compactMap { $0 }.joined(separator: " "),
                                  wire: wire))
        }
    }

    /// " — webhook: capture" for a notification the gateway sends (what it says, in the title,
    /// so two webhooks of one order are told apart at a glance).
    private func webhookLabel(_ json: [String: Any]?) -> String {
        guard caller == "notification", let status = json?["transaction_status"] as? String else { return "" }
        return " — webhook: \(status)"
    }
}
