import ArgumentParser
import Foundation
import TCPSocket

/// `netlab`: the command-line front of the stack. All logic lives in the libraries; each
/// subcommand only parses arguments, calls them and prints.
@main
struct NetLabCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "netlab",
        abstract: "A from-scratch network stack that carries an online payment, layer by layer.",
        discussion: """
            `netlab demo` plays a payment across customer, merchant, gateway, fraud service and bank, \
            showing each step at the TCP, TLS, HTTP and payment layers (`--list` for its scenarios). \
            `netlab sockets` walks through one TCP conversation system call by system call; \
            `netlab serve echo` and `netlab resolve` are tools for lab 1; `netlab parse` runs the \
            HTTP/1.1 parser on raw bytes; `netlab serve http` and `netlab get` are an HTTP(S) server \
            and client on NetLab's stack, and `netlab certs` makes the lab's certificates. \
            `netlab serve all` runs the payment system (gateway, bank, merchant, fraud and \
            notification services) and `netlab gateway merchant` manages the merchants one gateway \
            serves. `netlab net up` builds a small internet of network namespaces (root only).
            """,
        subcommands: [
            Demo.self, Sockets.self, Serve.self, GatewayCommand.self, Get.self, Certs.self, Resolve.self, Parse.self, Net.self,
        ]
    )
}

struct Resolve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the addresses getaddrinfo returns for a host name, in preference order.")

    @Argument(help: "A host name or numeric address, e.g. localhost or ::1.")
    var host: String

    @Option(help: "The port to attach to each address.")
    var port: UInt16 = 80

    func run() throws {
        do {
            for address in try SocketAddress.resolve(host: host, port: port) {
                print("\(address.family.rawValue)  \(address)")
            }
        } catch {
            throw ValidationError(error.description)
        }
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a NetLab server.",
        subcommands: [All.self, Gateway.self, Bank.self, Merchant.self, Fraud.self, Notification.self, HTTP.self, Echo.self])

    struct Echo: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A TCP echo server on the readiness loop (try it with `nc` or Python).")

        @Option(name: [.customLong("bind"), .customLong("host")], help: "Address to listen on; omit for every address (IPv4 and IPv6).")
        var host: String?

        @Option(help: "Port to listen on; 0 lets the kernel choose.")
        var port: UInt16 = 7007

        @Flag(help: "Print a line for every connection opened and closed.")
        var verbose = false

        func run() async throws {
            let listener = try AsyncTCPListener(host: host, port: port)
            say("echo server listening on \(listener.localAddress) with \(listener.group.loops.count) event loops")
            say("try: nc \(listener.localAddress.family == .ipv6 ? "::1" : "127.0.0.1") \(listener.localAddress.port)")
            let verbose = verbose
            try await listener.serve { connection in
                if verbose { say("+ \(connection.remoteAddress)") }
                var buffer: [UInt8] = []
                var total = 0
                while case .bytes(let n) = try await connection.read(into: &buffer, maxBytes: 65536) {
                    try await connection.write(buffer)
                    buffer.removeAll(keepingCapacity: true)
                    total += n
                }
                if verbose { say("- \(connection.remoteAddress) (\(total) bytes echoed)") }
            }
        }
    }
}
