import ArgumentParser
import TCPSocket

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The step-through demo. Today it covers layer 1: one TCP conversation on loopback, with each
/// system call named and the bytes that cross the connection shown in hex and ASCII.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Walk through a TCP conversation step by step (the payment flow arrives with later layers).")

    @Flag(name: .customLong("step"), help: "Pause after each step until Enter is pressed.")
    var pause = false

    @Option(help: "The host name to resolve and use.")
    var host = "localhost"

    mutating func run() async throws {
        var steps = StepPrinter(pause: pause)
        print("""
            NetLab demo — layer 1: TCP
            An online payment is, at the bottom, bytes on a TCP connection. This walk-through opens
            one on this machine and shows each system call. (HTTP, TLS and the payment itself are
            added by the next layers of NetLab; this demo grows with them.)

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
        print("    done. Try `netlab serve echo` and talk to it with `nc localhost 7007`.")
    }
}

func microseconds(_ duration: Duration) -> Int64 {
    let (seconds, attoseconds) = duration.components
    return seconds * 1_000_000 + attoseconds / 1_000_000_000_000
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
func hexDump(_ bytes: [UInt8], direction: String) {
    print("    \(direction), \(bytes.count) bytes:")
    for offset in stride(from: 0, to: bytes.count, by: 16) {
        let row = bytes[offset..<min(offset + 16, bytes.count)]
        let hex = row.map { byte in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }.joined(separator: " ")
        let ascii = String(row.map { (0x20...0x7E).contains($0) ? Character(UnicodeScalar($0)) : "." })
        let padded = hex + String(repeating: " ", count: 16 * 3 - 1 - hex.count)
        let label = String(offset, radix: 16)
        print("    \(String(repeating: "0", count: max(0, 4 - label.count)) + label)  \(padded)  \(ascii)")
    }
}
