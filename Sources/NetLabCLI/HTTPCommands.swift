import ArgumentParser
import Foundation
import HTTPParser
import NetLab
import TCPSocket
import TLSWrapper

extension Serve {
    struct HTTP: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "http",
            abstract: "An HTTP/1.1 server on NetLab's stack: /hello, /echo, and static files from --root.",
            discussion: """
                GET /hello answers "Hello, World!" (the load-test route); POST /echo returns the body; \
                GET /echo shows the request as the server parsed it. With --root, other paths are \
                files under that directory. Try: curl -v http://127.0.0.1:8080/echo
                """)

        @Option(name: [.customLong("bind"), .customLong("host")], help: "Address to listen on; omit for every address (IPv4 and IPv6).")
        var host: String?

        @Option(help: "Port to listen on; 0 lets the kernel choose.")
        var port: UInt16 = 8080

        @Option(help: "Serve the files under this directory.")
        var root: String?

        @Flag(help: "Print an access-log line per request.")
        var accessLog = false

        @Flag(help: "Serve HTTPS with a certificate from the lab CA in --certs (created if absent).")
        var tls = false

        @Option(help: "The lab CA's directory (see `netlab certs`).")
        var certs = "certs"

        func run() async throws {
            OpenFileLimit.raiseToMaximum()
            var router = Router()
            LabRoutes.install(into: &router)
            if let root {
                guard FileManager.default.fileExists(atPath: root) else { throw ValidationError("no directory \(root)") }
                router.fallback = StaticFiles(root: root).handler
            }
            var configuration = HTTPServerConfiguration()
            if accessLog { configuration.accessLog = { say($0) } }
            let server = HTTPServer(configuration: configuration, router: router)
            var context: TLSContext?
            if tls {
                let ca = try LabCertificateAuthority(directory: certs)
                let leaf = try ca.issue(name: "localhost")
                context = try TLSContext(.server(certificateChainFile: leaf.certificatePath, privateKeyFile: leaf.privateKeyPath))
                say("TLS certificate \(leaf.certificatePath), issued by the lab CA \(ca.certificatePath)")
            }
            let address = try await server.start(host: host, port: port, tls: context)
            say("HTTP\(tls ? "S" : "") server listening on \(address)" + (root.map { ", serving files from \($0)" } ?? ""))
            // Run until interrupted.
            while true { try await Task.sleep(for: .seconds(3600)) }
        }
    }
}

/// `netlab get URL`: a curl-like client on NetLab's stack; `-v` shows what each layer did.
struct Get: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send an HTTP request with NetLab's client and print the response body.",
        discussion: """
            Examples:
              netlab get http://127.0.0.1:8080/hello -v
              netlab get http://127.0.0.1:8080/echo -X POST -d '{"a":1}' -H 'Content-Type: application/json'
            """)

    @Argument(help: "The URL (http://host[:port]/path).")
    var url: String

    @Option(name: .customShort("X"), help: "The method.")
    var method: String?

    @Option(name: .customShort("d"), help: "A request body (sent with Content-Length); implies POST.")
    var data: String?

    @Option(name: .customShort("H"), help: "A field to send, \"Name: value\" (repeatable).")
    var header: [String] = []

    @Flag(name: .customShort("v"), help: "Show each layer: name resolution, TCP connect, the request bytes, the response head.")
    var verbose = false

    @Option(help: "Give up after this many seconds.")
    var timeout: Double = 30

    @Option(help: "Trust the CA certificates in this PEM file (e.g. certs/ca.pem) instead of the system's.")
    var cacert: String?

    @Flag(help: "DANGER: accept any TLS certificate. Anyone on the path can then read and change the exchange.")
    var insecure = false

    func run() async throws {
        let url: HTTPURL
        do { url = try HTTPURL(self.url) } catch { throw ValidationError(error.description) }
        guard let method = HTTPMethod(validating: self.method ?? (data == nil ? "GET" : "POST")) else {
            throw ValidationError("\(self.method ?? "") is not a method token")
        }
        var request = HTTPClientRequest(method: method, url: url, body: Array((data ?? "").utf8))
        for line in header {
            guard let colon = line.firstIndex(of: ":") else { throw ValidationError("-H wants \"Name: value\", got \(line)") }
            let name = String(line[..<colon])
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            do { try request.fields.append(name: name, value: value) } catch { throw ValidationError(error.description) }
        }
        var configuration = HTTPClientConfiguration()
        configuration.requestTimeout = .milliseconds(Int64(timeout * 1000))
        if url.scheme == .https {
            var tls = TLSConfiguration.client(trustRootsFile: cacert)
            if insecure {
                tls.certificateVerification = .noneDangerous
                FileHandle.standardError.write(Data("WARNING: certificate verification is OFF (--insecure): this connection is open to a man in the middle\n".utf8))
            }
            configuration.tls = try TLSContext(tls)
        }
        let verbose = verbose
        let client = HTTPClient(configuration: configuration, trace: { event in
            guard verbose else { return }
            Self.show(event)
        })
        do {
            let response = try await client.execute(request)
            FileHandle.standardOutput.write(Data(response.body))
            await client.shutdown()
        } catch {
            await client.shutdown()
            FileHandle.standardError.write(Data("netlab get: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }

    static func show(_ event: HTTPClientTraceEvent) {
        func err(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }
        switch event {
        case .resolved(let host, let addresses):
            err("* [dns] \(host) → \(addresses.map(\.description).joined(separator: ", "))")
        case .connected(let local, let remote, let after):
            let micros = after.components.seconds * 1_000_000 + after.components.attoseconds / 1_000_000_000_000
            err("* [tcp] connected \(local) → \(remote) in \(micros) µs (SYN, SYN-ACK, ACK)")
        case .reusedConnection(let remote):
            err("* [tcp] reusing the keep-alive connection to \(remote)")
        case .retrying(let reason):
            err("* [http] retrying on a new connection: \(reason)")
        case .sent(let head, let bodyLength):
            err("* [http] sent the request (credentials redacted):")
            for line in head.split(separator: "\r\n", omittingEmptySubsequences: false) { err("> \(line)") }
            err(">")
            if bodyLength > 0 { err("> [\(bodyLength) body bytes]") }
        case .tlsEstablished(let facts):
            err("* [tls] \(facts.version) \(facts.cipherSuite), ALPN \(facts.applicationProtocol ?? "-")")
            if let peer = facts.peerCertificate {
                err("* [tls] server certificate: \(peer.subject), issued by \(peer.issuer)")
                err("* [tls]   names \(peer.subjectAlternativeNames.joined(separator: ", ")); valid \(peer.notBefore) – \(peer.notAfter)")
            }
        case .receivedHead(let head):
            err("< \(head.version) \(head.status) \(head.reason)")
            for (name, value) in head.fields { err("< \(name): \(value)") }
            err("<")
        }
    }
}

/// Writes a line to standard output at once (unbuffered), so a log piped to a file keeps up.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
