import Foundation
import HTTPParser
import NetLab
import TCPSocket

/// Lab 3's seam: the server side of one HTTP/1.1 connection — the loop that reads requests,
/// answers them through the router, and decides when the connection ends.
public protocol HTTPConnectionServing: Sendable {
    /// Serves `connection` until it should close, then returns (the caller closes it):
    /// - parse requests (``HTTPMessageParser``, `.requests`) from whatever bytes arrive;
    /// - answer each with `router.handle(request)`; an ``HTTPError`` thrown there is answered with
    ///   its status (404, 405, …), any other error with 500; serialize with ``HTTPSerializer``
    ///   and a `Content-Length`;
    /// - keep the connection for the next request (keep-alive), except after `Connection: close`,
    ///   an HTTP/1.0 request (without `Connection: keep-alive`), or a malformed request (answer
    ///   its `HTTPParseError.status`, then close);
    /// - close a connection on which no request starts within `idleTimeout`.
    func serve(_ connection: any ByteStream, router: Router, idleTimeout: Duration) async
}

/// Lab 3's checks: a raw TCP client speaks to a listener whose connections the student's loop serves.
public enum ServerLab {
    /// Evidence "LABEL: what", the label in each language.
    static func said(_ en: String, _ id: String, _ what: String) -> LabText {
        LabText(en: "\(en): \(what)", id: "\(id): \(what)")
    }

    public static let name = LabText(en: "HTTP server: keep-alive, routing, error answers, timeouts",
                                     id: "Server HTTP: keep-alive, routing, jawaban error, timeout")

    /// Serves `server`'s connection loop on `host`:`port` until cancelled, with the lab routes
    /// (`GET /hello` answers "Hello, World!", `POST /echo` echoes): `lab serve 3`, for a browser,
    /// curl or wrk (the load lab). Calls `ready` with the address once listening.
    public static func serve(_ server: some HTTPConnectionServing, host: String, port: UInt16,
                             ready: @Sendable (SocketAddress) -> Void) async throws {
        var router = Router()
        LabRoutes.install(into: &router)
        let routes = router
        let listener = try AsyncTCPListener(host: host, port: port)
        ready(listener.localAddress)
        try await listener.serve { connection in
            await server.serve(connection, router: routes, idleTimeout: .seconds(10))
            await connection.close()
        }
    }

    public static func suite(_ server: some HTTPConnectionServing) -> LabSuite {
        LabSuite(number: 3, name: name, steps: [
            LabStep("3.1", LabText(en: "GET /hello is answered 200 with Content-Length and the body",
                                   id: "GET /hello dijawab 200 dengan Content-Length dan body-nya")) {
                try await Harness.with(server) { h in
                    let c = try await h.connect()
                    try await c.send("GET /hello HTTP/1.1\r\nHost: lab\r\n\r\n")
                    let r = try await c.response(for: "GET /hello")
                    try expect(r.status == 200 && r.body == Array("Hello, NetLab!".utf8) && r.fields["Content-Length"] == "14", r,
                               LabText(en: "expected 200 with body \"Hello, NetLab!\" and Content-Length: 14", id: "seharusnya 200 dengan body \"Hello, NetLab!\" dan Content-Length: 14"))
                }
            },
            LabStep("3.2", LabText(en: "keep-alive: three requests one after another on one connection",
                                   id: "keep-alive: tiga permintaan berturut-turut dalam satu koneksi")) {
                try await Harness.with(server) { h in
                    let c = try await h.connect()
                    for n in 1...3 {
                        try await c.send("GET /hello HTTP/1.1\r\nHost: lab\r\n\r\n")
                        let r = try await c.response(for: "request \(n) of 3")
                        try expect(r.status == 200, r, LabText(en: "request \(n) on the same connection", id: "permintaan ke-\(n) di koneksi yang sama"))
                    }
                }
            },
            LabStep("3.3", LabText(en: "pipelining: three requests in one write get three answers, in order",
                                   id: "pipelining: tiga permintaan dalam satu write mendapat tiga jawaban, berurutan")) {
                try await Harness.with(server) { h in
                    let c = try await h.connect()
                    try await c.send("GET /n/1 HTTP/1.1\r\nHost: lab\r\n\r\nGET /n/2 HTTP/1.1\r\nHost: lab\r\n\r\nGET /n/3 HTTP/1.1\r\nHost: lab\r\n\r\n")
                    for n in 1...3 {
                        let r = try await c.response(for: "GET /n/\(n)")
                        try expect(r.body == Array("\(n)".utf8), r, LabText(en: "answer \(n) must be \"\(n)\": answers go out in the order of the requests",
                                                                            id: "jawaban ke-\(n) harus \"\(n)\": jawaban dikirim sesuai urutan permintaan"))
                    }
                }
            },
            LabStep("3.4", LabText(en: "POST bodies: by Content-Length and chunked, both echoed",
                                   id: "body POST: dengan Content-Length dan chunked, keduanya dipantulkan")) {
                try await Harness.with(server) { h in
                    let c = try await h.connect()
                    try await c.send("POST /echo HTTP/1.1\r\nHost: lab\r\nContent-Length: 11\r\n\r\nhalo dunia!")
                    let first = try await c.response(for: "POST /echo (Content-Length)")
                    try expect(first.body == Array("halo dunia!".utf8), first, LabText(en: "the body comes back", id: "body-nya kembali"))
                    try await c.send("POST /echo HTTP/1.1\r\nHost: lab\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nhalo\r\n6\r\n dunia\r\n0\r\n\r\n")
                    let second = try await c.response(for: "POST /echo (chunked)")
                    try expect(second.body == Array("halo dunia".utf8), second, LabText(en: "the chunks come back joined", id: "potongan-potongannya kembali tergabung"))
                }
            },
            LabStep("3.5", LabText(en: "errors: an unknown route is 404, a failing handler 500 — and the connection stays usable",
                                   id: "error: rute tak dikenal 404, handler yang gagal 500 — dan koneksi tetap bisa dipakai")) {
                try await Harness.with(server) { h in
                    let c = try await h.connect()
                    try await c.send("GET /nowhere HTTP/1.1\r\nHost: lab\r\n\r\n")
                    let missing = try await c.response(for: "GET /nowhere")
                    try expect(missing.status == 404, missing, LabText(en: "expected 404 (router.handle throws HTTPError(status: 404))", id: "seharusnya 404 (router.handle melempar HTTPError(status: 404))"))
                    try await c.send("GET /boom HTTP/1.1\r\nHost: lab\r\n\r\n")
                    let broken = try await c.response(for: "GET /boom")
                    try expect(broken.status == 500, broken, LabText(en: "expected 500 when the handler throws", id: "seharusnya 500 ketika handler melempar error"))
                    try await c.send("GET /hello HTTP/1.1\r\nHost: lab\r\n\r\n")
                    let after = try await c.response(for: "GET /hello after the errors")
                    try expect(after.status == 200, after, LabText(en: "the connection serves the next request", id: "koneksi melayani permintaan berikutnya"))
                }
            },
            LabStep("3.6", LabText(en: "a malformed request gets 400 and the connection is closed",
                                   id: "permintaan yang rusak mendapat 400 dan koneksinya ditutup")) {
                try await Harness.with(server) { h in
                    let c = try await h.connect()
                    try await c.send("GET /hello HTTP/1.1\r\nHost lab\r\n\r\n")
                    let r = try await c.response(for: "a field line without a colon")
                    try expect(r.status == 400, r, LabText(en: "expected 400 (RFC 9112 §5: a field line needs a colon)", id: "seharusnya 400 (RFC 9112 §5: baris field butuh titik dua)"))
                    try await c.expectClosed(LabText(en: "after a 400 the server must close", id: "setelah 400 server harus menutup koneksi"))
                }
            },
            LabStep("3.7", LabText(en: "Connection: close and HTTP/1.0 are answered, then the connection is closed",
                                   id: "Connection: close dan HTTP/1.0 dijawab, lalu koneksinya ditutup")) {
                try await Harness.with(server) { h in
                    let c = try await h.connect()
                    try await c.send("GET /hello HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n")
                    let closing = try await c.response(for: "GET /hello with Connection: close")
                    try expect(closing.status == 200 && closing.body == Array("Hello, NetLab!".utf8), closing,
                               LabText(en: "the request is answered normally before the close", id: "permintaan dijawab seperti biasa sebelum ditutup"))
                    try await c.expectClosed(LabText(en: "after Connection: close (RFC 9112 §9.6)", id: "setelah Connection: close (RFC 9112 §9.6)"))
                    let old = try await h.connect()
                    try await old.send("GET /hello HTTP/1.0\r\n\r\n")
                    let answered = try await old.response(for: "GET /hello HTTP/1.0")
                    try expect(answered.status == 200, answered, LabText(en: "an HTTP/1.0 request is answered (200)", id: "permintaan HTTP/1.0 dijawab (200)"))
                    try await old.expectClosed(LabText(en: "after an HTTP/1.0 request without keep-alive (RFC 9112 §9.3)", id: "setelah permintaan HTTP/1.0 tanpa keep-alive (RFC 9112 §9.3)"))
                }
            },
            LabStep("3.8", LabText(en: "after an answer the connection waits for the next request, and closes after the idle timeout (2 s here)",
                                   id: "setelah menjawab, koneksi menunggu permintaan berikutnya, dan ditutup setelah idle timeout (di sini 2 detik)")) {
                try await Harness.with(server) { h in
                    let c = try await h.connect()
                    try await c.send("GET /hello HTTP/1.1\r\nHost: lab\r\n\r\n")
                    let r = try await c.response(for: "GET /hello")
                    try expect(r.status == 200, r, LabText(en: "expected 200", id: "seharusnya 200"))
                    try await c.expectOpen(for: .milliseconds(300), LabText(en: "the connection closed at once; keep it for the next request until the idle timeout",
                                                                            id: "koneksi langsung ditutup; pertahankan untuk permintaan berikutnya sampai idle timeout"))
                    try await c.expectClosed(LabText(en: "an idle connection must not be kept forever (slowloris)", id: "koneksi diam tidak boleh dibiarkan selamanya (slowloris)"),
                                             within: .seconds(5))
                }
            },
        ])
    }

    static func expect(_ condition: Bool, _ response: Response, _ what: LabText) throws {
        guard condition else {
            throw LabFailure(what, evidence: ServerLab.said("got", "diterima", "\(response.status) \(response.fields), body \(HTTPEventRendering.escaped(response.body, limit: 120))"))
        }
    }

    struct Response {
        var status: Int
        var fields: HTTPFields
        var body: [UInt8]
    }

    /// A listener whose every connection the loop under test serves.
    final class Harness: Sendable {
        let listener: AsyncTCPListener
        let task: Task<Void, Never>

        private init(listener: AsyncTCPListener, task: Task<Void, Never>) {
            self.listener = listener
            self.task = task
        }

        static func with(_ server: some HTTPConnectionServing, _ body: (Harness) async throws -> Void) async throws {
            var router = Router()
            router.get("/hello") { _ in .text("Hello, NetLab!") }
            router.get("/n/{n}") { request in .text(request.pathParameters["n"] ?? "") }
            router.post("/echo") { request in HTTPResponse(status: 200, body: .bytes(request.body)) }
            router.get("/boom") { _ in throw CocoaError(.fileReadUnknown) }
            let listener = try AsyncTCPListener(host: "127.0.0.1", port: 0)
            let routes = router
            let task = Task<Void, Never> {
                _ = try? await listener.serve { connection in
                    await server.serve(connection, router: routes, idleTimeout: .seconds(2))
                    await connection.close()
                }
            }
            let harness = Harness(listener: listener, task: task)
            defer { task.cancel() }
            do {
                try await body(harness)
            } catch {
                await listener.close()
                throw error
            }
            await listener.close()
        }

        func connect() async throws -> Client {
            Client(connection: try await AsyncTCPConnection.connect(to: listener.localAddress, timeout: .seconds(5)))
        }
    }

    /// A raw HTTP client: sends bytes as given, parses answers with the reference parser.
    final class Client: @unchecked Sendable {
        let connection: AsyncTCPConnection
        var parser = HTTPMessageParser(parsing: .responses)
        var buffer: [UInt8] = []

        init(connection: AsyncTCPConnection) { self.connection = connection }

        func send(_ text: String) async throws {
            for line in text.split(separator: "\r\n\r\n", omittingEmptySubsequences: false) where line.hasPrefix("GET") || line.hasPrefix("POST") {
                parser.expectResponse(to: line.hasPrefix("GET") ? .get : .post)
            }
            try await connection.write(Array(text.utf8), deadline: .after(.seconds(5)))
        }

        func response(for what: String) async throws -> Response {
            var head: HTTPResponseHead?
            var body: [UInt8] = []
            let deadline = Deadline.after(.seconds(10))
            while true {
                do {
                    while let event = try parser.nextEvent() {
                        switch event {
                        case .responseHead(let h): head = h
                        case .body(let piece): body += piece
                        case .endOfMessage:
                            if let head { return Response(status: head.status, fields: head.fields, body: body) }
                        default: break
                        }
                    }
                } catch {
                    throw LabFailure(LabText(en: "the answer to \(what) is not valid HTTP: \(error)", id: "jawaban untuk \(what) bukan HTTP yang valid: \(error)"),
                                     detail: HTTPEventRendering.escaped(buffer, limit: 300))
                }
                let start = buffer.count
                let result: ReadResult
                do {
                    result = try await connection.read(into: &buffer, maxBytes: 65536, deadline: deadline)
                } catch let error where !(error is SocketError) || "\(error)".contains("ECONNRESET") {
                    throw LabFailure(LabText(en: "the connection broke before the answer to \(what): \(error)", id: "koneksi putus sebelum jawaban untuk \(what): \(error)"),
                                     evidence: ServerLab.said("received so far", "diterima sejauh ini", HTTPEventRendering.escaped(buffer, limit: 300)))
                } catch {
                    throw LabFailure(LabText(en: "no complete answer to \(what) within 10 s", id: "tidak ada jawaban lengkap untuk \(what) dalam 10 detik"),
                                     evidence: ServerLab.said("received so far", "diterima sejauh ini", HTTPEventRendering.escaped(buffer, limit: 300)),
                                     hint: LabText(en: "every answer needs a status line, fields, an empty line, and a body framed by Content-Length",
                                                   id: "setiap jawaban butuh baris status, field, baris kosong, dan body yang dibingkai Content-Length"))
                }
                switch result {
                case .bytes: parser.receive(buffer[start...])
                case .endOfStream:
                    parser.receiveEndOfStream()
                    if head == nil {
                        throw LabFailure(LabText(en: "the server closed the connection without answering \(what)", id: "server menutup koneksi tanpa menjawab \(what)"),
                                         evidence: ServerLab.said("received", "diterima", HTTPEventRendering.escaped(buffer, limit: 300)))
                    }
                }
            }
        }

        /// Nothing arrives and the connection stays open for `duration`.
        func expectOpen(for duration: Duration, _ what: LabText) async throws {
            var scratch: [UInt8] = []
            do {
                _ = try await connection.read(into: &scratch, maxBytes: 4096, deadline: .after(duration))
            } catch SocketError.timedOut {
                return
            } catch {}
            throw LabFailure(what, evidence: scratch.isEmpty ? nil : ServerLab.said("instead, the server sent", "sebagai gantinya, server mengirim", HTTPEventRendering.escaped(scratch, limit: 200)))
        }

        func expectClosed(_ what: LabText, within limit: Duration = .seconds(3)) async throws {
            var scratch: [UInt8] = []
            do {
                while case .bytes = try await connection.read(into: &scratch, maxBytes: 4096, deadline: .after(limit)) {}
            } catch SocketError.timedOut {
                throw LabFailure(LabText(en: "the connection is still open: \(what.en)", id: "koneksi masih terbuka: \(what.id)"))
            } catch {
                return  // reset by the server: closed too
            }
        }
    }
}
