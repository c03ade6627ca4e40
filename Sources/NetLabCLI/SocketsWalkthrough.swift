import ArgumentParser
import Foundation
import HTTPParser
import NetLab
import TCPSocket
import TLSWrapper

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `netlab sockets`: the layers under the payment, by hand. One TCP conversation on loopback
/// (each system call named, the bytes shown in hex and ASCII), then TLS (the same payment
/// request in clear and encrypted as an eavesdropper on the TCP connection sees it, and what
/// turning certificate verification off costs). Lab 1's companion; `netlab demo` plays the
/// whole payment.
struct Sockets: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Walk through one TCP conversation system call by system call, then the same request over TLS.")

    @Flag(name: .customLong("step"), help: "Pause after each step until Enter is pressed.")
    var pause = false

    @Option(help: "The host name to resolve and use.")
    var host = "localhost"

    mutating func run() async throws {
        var steps = StepPrinter(pause: pause)
        print("""
            NetLab sockets — TCP, then TLS
            An online payment is, at the bottom, bytes on a TCP connection. This walk-through opens
            one on this machine and shows each system call, then sends a payment request over HTTP
            and over HTTPS and shows what someone watching the TCP connection would see. (The
            whole payment, across every actor, is `netlab demo`.)

            """)

        steps.begin("Resolve \"\(host)\" with getaddrinfo()")
        let addresses = try SocketAddress.resolve(host: host, port: 0)
        for address in addresses { print("    \(address.family.rawValue): \(address.host)") }
        let chosen = addresses[0]
        print("    using the first one, \(chosen.host), as a client would")

        steps.begin("Server: socket() + bind() + listen() on port 0")
        let listener = try TCPListener(bindingTo: chosen.with(port: 0))
        print("    the kernel chose port \(listener.localAddress.port): listening on \(listener.localAddress)")

        steps.begin("Client: socket() + connect() — the three-way handshake (SYN, SYN-ACK, ACK)")
        let start = ContinuousClock.now
        let client = try TCPConnection.connect(to: listener.localAddress, timeout: .seconds(5))
        let handshake = ContinuousClock.now - start
        print("    connected \(client.localAddress) → \(client.remoteAddress) in \(microseconds(handshake)) µs")
        try client.setNoDelay()
        print("    TCP_NODELAY on: small messages leave at once instead of waiting for Nagle's algorithm")

        steps.begin("Server: accept() hands over the new connection")
        let server = try listener.accept(deadline: .after(.seconds(5)))
        print("    accepted \(server.remoteAddress) on \(server.localAddress)")

        let request = "POST /v2/charge HTTP/1.1\r\nHost: \(host)\r\nContent-Length: 2\r\n\r\n{}"
        steps.begin("Client: send() \(request.utf8.count) bytes — soon this will be an HTTP request")
        try client.write(request)
        hexDump(Array(request.utf8), direction: "client → server")

        steps.begin("Server: recv() — TCP delivers the bytes whole and in order")
        let received = try server.readExactly(request.utf8.count, deadline: .after(.seconds(5)))
        print("    received \(received.count) bytes; identical to what was sent: \(received == Array(request.utf8))")

        let response = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
        steps.begin("Server: send() the answer, then shutdown(SHUT_WR) — a FIN: \"I am done sending\"")
        try server.write(response)
        try server.shutdown(.write)
        hexDump(Array(response.utf8), direction: "server → client")

        steps.begin("Client: recv() until it returns 0 — end of stream is a result, not an error")
        var answer: [UInt8] = []
        var reads = 0
        while case .bytes = try client.read(into: &answer, deadline: .after(.seconds(5))) { reads += 1 }
        print("    \(answer.count) bytes in \(reads) read(s), then end of stream")

        steps.begin("Both: close() — the connection is released; the listener stops")
        client.close()
        server.close()
        listener.close()
        try await tlsPart(&steps)
        print("\n    done. Try `netlab serve http --tls` and `netlab get https://localhost:8080/echo --cacert certs/ca.pem -v`.")
    }
}

func microseconds(_ duration: Duration) -> Int64 {
    let (seconds, attoseconds) = duration.components
    return seconds * 1_000_000 + attoseconds / 1_000_000_000_000
}

extension Sockets {
    /// TLS: the same request in clear and encrypted, as a TCP-level tap sees it; then what
    /// turning verification off lets an impostor do.
    func tlsPart(_ steps: inout StepPrinter) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-demo-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let card = "4811111111111114"
        let body = Array("{\"payment_type\":\"credit_card\",\"card_number\":\"\(card)\",\"gross_amount\":\"10000\"}".utf8)
        var router = Router()
        router.post("/v2/charge") { _ in .text("{\"status_code\":\"200\"}") }

        steps.begin("HTTP without TLS: a tap on the TCP connection sees everything")
        let plain = HTTPServer(router: router)
        let plainAddress = try await plain.start(host: "127.0.0.1", port: 0)
        let clearTap = Wiretap(layer: "tcp")
        let clearClient = Self.tappedClient(clearTap, tls: nil)
        _ = try await clearClient.post("http://127.0.0.1:\(plainAddress.port)/v2/charge", body: body)
        let sent = clearTap.bytes(.outbound)
        hexDump(Array(sent.prefix(48)), direction: "what the tap saw leaving the client: the request line first")
        // The card number is in the body, after the head: show the very bytes that hold it.
        let digits = Array(card.utf8)
        if let at = sent.indices.first(where: { sent[$0...].starts(with: digits) }) {
            let from = at / 16 * 16
            hexDump(Array(sent[from..<min(sent.count, at + digits.count + 16)]),
                    direction: "and further on, bytes \(at)–\(at + digits.count - 1): the card number in the JSON body", start: from)
        }
        print("    the card number is \(clearTap.saw(card) ? "VISIBLE" : "not visible") on the wire")
        await clearClient.shutdown()
        await plain.shutdown()

        steps.begin("A lab certificate authority, made in-process: a CA and a certificate for localhost")
        let ca = try LabCertificateAuthority(directory: directory + "/lab")
        let leaf = try ca.issue(name: "localhost")
        let summary = try LabCertificateAuthority.summary(ofCertificateAt: leaf.certificatePath)
        print("    \(summary.subject), issued by \(summary.issuer)\n    names: \(summary.subjectAlternativeNames.joined(separator: ", "))")

        steps.begin("HTTPS: the same request inside TLS — the tap sees only ciphertext")
        var serverTLS = TLSConfiguration.server(certificateChainFile: leaf.certificatePath, privateKeyFile: leaf.privateKeyPath)
        serverTLS.keyLog = nil
        let secure = HTTPServer(router: router)
        let secureAddress = try await secure.start(host: "127.0.0.1", port: 0, tls: try TLSContext(serverTLS))
        var clientTLS = TLSConfiguration.client(trustRootsFile: ca.certificatePath)
        clientTLS.keyLog = nil
        let cipherTap = Wiretap(layer: "tcp")
        let secureClient = Self.tappedClient(cipherTap, tls: try TLSContext(clientTLS))
        _ = try await secureClient.post("https://localhost:\(secureAddress.port)/v2/charge", body: body)
        let outbound = cipherTap.bytes(.outbound)
        hexDump(Array(outbound.prefix(64)), direction: "the ClientHello starts like this (TLS record type 0x16, version 0x0301)")
        if outbound.count > 64 { hexDump(Array(outbound.suffix(48)), direction: "the encrypted request ends like this") }
        print("    the card number is \(cipherTap.saw(card) ? "VISIBLE" : "not visible") on the wire")
        await secureClient.shutdown()

        steps.begin("An impostor with a certificate from another CA: verification refuses it")
        let rogue = try LabCertificateAuthority(directory: directory + "/rogue", commonName: "Rogue CA")
        let rogueLeaf = try rogue.issue(name: "localhost")
        var rogueTLS = TLSConfiguration.server(certificateChainFile: rogueLeaf.certificatePath, privateKeyFile: rogueLeaf.privateKeyPath)
        rogueTLS.keyLog = nil
        let impostorSaw = Wiretap(layer: "impostor")
        var impostorRouter = Router()
        impostorRouter.post("/v2/charge") { request in
            impostorSaw.record(.inbound, request.body)
            return .text("{\"status_code\":\"200\"}")
        }
        let impostor = HTTPServer(router: impostorRouter)
        let impostorAddress = try await impostor.start(host: "127.0.0.1", port: 0, tls: try TLSContext(rogueTLS))
        var verifying = HTTPClientConfiguration()
        verifying.tls = try TLSContext(clientTLS)
        let careful = HTTPClient(configuration: verifying)
        do {
            _ = try await careful.post("https://localhost:\(impostorAddress.port)/v2/charge", body: body)
            print("    (unexpected: the impostor was accepted)")
        } catch {
            print("    refused: \(error)")
        }
        await careful.shutdown()

        steps.begin("The same impostor with verification turned off (--insecure): the card goes to it")
        var blind = TLSConfiguration.client()
        blind.certificateVerification = .noneDangerous
        blind.keyLog = nil
        var careless = HTTPClientConfiguration()
        careless.tls = try TLSContext(blind)
        let carelessClient = HTTPClient(configuration: careless)
        _ = try await carelessClient.post("https://localhost:\(impostorAddress.port)/v2/charge", body: body)
        print("    the impostor received the card number: \(impostorSaw.saw(card) ? "YES" : "no") — encryption without authentication protects nothing")
        await carelessClient.shutdown()
        await impostor.shutdown()
        await secure.shutdown()
    }

    /// A client whose connections pass a TCP-level tap (and TLS above it when given).
    static func tappedClient(_ tap: Wiretap, tls: TLSContext?) -> HTTPClient {
        HTTPClient(connector: { url, deadline, client in
            let tcp = tap.tapping(try await client.connectTCP(url, deadline: deadline))
            guard let tls else { return tcp }
            return try await TLSStream.connect(over: tcp, context: tls, serverName: url.host, deadline: deadline)
        })
    }
}

/// Numbers the steps and, in `--step` mode, waits for Enter between them.
struct StepPrinter {
    let pause: Bool
    private var number = 0

    init(pause: Bool) { self.pause = pause }

    mutating func begin(_ title: String) {
        if pause && number > 0 {
            print("    [Enter for the next step]", terminator: "")
            _ = readLine()
        }
        number += 1
        print("\n\(number). \(title)")
    }
}

/// Prints bytes as a classic hex dump: offset, 16 bytes in hex, then the printable ASCII.
/// Sixteen bytes a row, hex and ASCII; offsets count from `start` (where the bytes sit in what
/// was sent).
func hexDump(_ bytes: [UInt8], direction: String, start: Int = 0) {
    print("    \(direction), \(bytes.count) bytes:")
    for offset in stride(from: 0, to: bytes.count, by: 16) {
        let row = bytes[offset..<min(offset + 16, bytes.count)]
        let hex = row.map { byte in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }.joined(separator: " ")
        let ascii = String(row.map { (0x20...0x7E).contains($0) ? Character(UnicodeScalar($0)) : "." })
        let padded = hex + String(repeating: " ", count: 16 * 3 - 1 - hex.count)
        let label = String(start + offset, radix: 16)
        print("    \(String(repeating: "0", count: max(0, 4 - label.count)) + label)  \(padded)  \(ascii)")
    }
}
