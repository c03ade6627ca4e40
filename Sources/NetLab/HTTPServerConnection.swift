import Synchronization
import HTTPParser
import TCPSocket

/// One server-side HTTP/1.1 conversation over a ``ByteStream``.
///
/// The loop: take every event the parser has (answering each complete request in order and
/// appending the response bytes to `output`), write `output` with one write, then read more —
/// with the deadline that fits where the conversation is:
///
/// | waiting for | deadline | when it passes |
/// |---|---|---|
/// | the first byte of the next request | `idleTimeout` | close quietly |
/// | the rest of a head | `headerTimeout` from its first byte | 408, close |
/// | more of a body | `bodyTimeout` per read | 408, close |
/// | the client to take our bytes | `writeTimeout` per write | close |
struct HTTPServerConnection<Stream: ByteStream> {
    let server: HTTPServer
    let stream: Stream
    let remoteAddress: SocketAddress?
    let open: HTTPServer.OpenConnection
    private var configuration: HTTPServerConfiguration { server.configuration }

    private var parser: HTTPMessageParser
    private var input: [UInt8] = []
    private var output: [UInt8] = []
    /// The request whose head has arrived and whose body is being collected.
    private var current: (head: HTTPRequestHead, body: [UInt8], started: ContinuousClock.Instant)?
    /// When the first byte of a request not yet complete arrived (for the header timeout).
    private var headStartedAt: ContinuousClock.Instant?
    private var closeAfterFlush = false
    private var peerFinished = false

    init(server: HTTPServer, stream: Stream, remoteAddress: SocketAddress?, open: HTTPServer.OpenConnection) {
        self.server = server
        self.stream = stream
        self.remoteAddress = remoteAddress
        self.open = open
        parser = HTTPMessageParser(parsing: .requests, limits: server.configuration.limits)
        input.reserveCapacity(16 * 1024)
        output.reserveCapacity(4 * 1024)
    }

    mutating func run() async {
        while true {
            await handleEvents()
            guard await flush() else { return }
            if closeAfterFlush || peerFinished { return }
            guard await readMore() else { return }
        }
    }

    // MARK: Events

    private mutating func handleEvents() async {
        do {
            while !closeAfterFlush, let event = try parser.nextEvent() {
                switch event {
                case .requestHead(let head):
                    open.idle.store(false, ordering: .releasing)
                    current = (head, [], headStartedAt ?? .now)
                    headStartedAt = nil
                    if let problem = Self.hostProblem(head) {
                        emitError(HTTPError(status: 400, message: problem), closing: true)
                        return
                    }
                    // RFC 9110 §10.1.1: the client waits for a 100 before sending the body.
                    if head.expectsContinue && head.framing != .none && parser.bufferedByteCount == 0 {
                        output.append(contentsOf: "HTTP/1.1 100 Continue\r\n\r\n".utf8)
                    }
                case .body(let bytes):
                    current?.body.append(contentsOf: bytes)
                case .trailers, .responseHead:
                    break  // trailers carry nothing the server acts on; a request parser yields no responses
                case .endOfMessage:
                    guard let request = current else { continue }
                    current = nil
                    try await answer(request)
                case .upgrade:
                    // NetLab's server speaks only HTTP/1.1: a CONNECT was answered (404/405) and
                    // the tunnel bytes that follow are not HTTP, so close; an Upgrade is declined
                    // and the connection goes on as HTTP/1.1 (RFC 9110 §7.8).
                    if case .connect? = lastMethod { closeAfterFlush = true } else { parser.declineUpgrade() }
                }
            }
        } catch let error as HTTPParseError {
            emitError(HTTPError(status: error.status, message: error.description), closing: true)
        } catch {
            // A streamed body failed midway: the framing is broken, so the connection must end.
            closeAfterFlush = true
        }
    }

    private var lastMethod: HTTPMethod?

    /// RFC 9112 §3.2: an HTTP/1.1 request must carry exactly one Host.
    static func hostProblem(_ head: HTTPRequestHead) -> String? {
        let hosts = head.fields.values(of: "Host")
        if head.version.minor >= 1 && hosts.isEmpty { return "an HTTP/1.1 request needs a Host field (RFC 9112 §3.2)" }
        if hosts.count > 1 { return "more than one Host field (RFC 9112 §3.2)" }
        return nil
    }

    private mutating func answer(_ pending: (head: HTTPRequestHead, body: [UInt8], started: ContinuousClock.Instant))
        async throws
    {
        lastMethod = pending.head.method
        let request = HTTPRequest(head: pending.head, body: pending.body, remoteAddress: remoteAddress)
        let response = await server.respond(to: request)
        let keepAlive = pending.head.keepAlive && !server.isDraining
        let sent = try await emit(response, for: pending.head, keepAlive: keepAlive)
        if let log = configuration.accessLog {
            let elapsed = ContinuousClock.now - pending.started
            let micros = elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000
            log("\(remoteAddress?.description ?? "-") \"\(pending.head.method) \(pending.head.target) \(pending.head.version)\" \(response.status) \(sent) \(micros)µs")
        }
        if !keepAlive { closeAfterFlush = true }
        if parser.bufferedByteCount == 0 { open.idle.store(true, ordering: .releasing) }
    }

    /// Appends (or, for streams, writes) the response; returns the number of body bytes sent.
    private mutating func emit(_ response: HTTPResponse, for request: HTTPRequestHead, keepAlive: Bool) async throws -> Int {
        var head = HTTPResponseHead(status: response.status, reason: response.reason, fields: response.fields)
        let bodiless = (100..<200).contains(response.status) || response.status == 204 || response.status == 304
        let isHead = request.method == .head
        if let serverName = configuration.serverName, !head.fields.contains("Server") {
            try? head.fields.append(name: "Server", value: serverName)
        }
        if !head.fields.contains("Date") { try? head.fields.append(name: "Date", value: HTTPDate.now) }
        head.fields.removeAll(named: "Connection")
        if !keepAlive {
            try? head.fields.append(name: "Connection", value: "close")
        } else if request.version.minor == 0 {
            try? head.fields.append(name: "Connection", value: "keep-alive")
        }

        switch response.body {
        case .bytes(let body):
            head.fields.removeAll(named: "Content-Length")
            head.fields.removeAll(named: "Transfer-Encoding")
            if !bodiless { try? head.fields.append(name: "Content-Length", value: String(body.count)) }
            do {
                try HTTPSerializer.writeHead(head, into: &output)
            } catch {
                output.removeAll(keepingCapacity: true)
                return emitError(HTTPError(status: 500), closing: true)
            }
            if !isHead && !bodiless { output.append(contentsOf: body) }
            return isHead || bodiless ? 0 : body.count

        case .stream(let produce):
            // HTTP/1.1 gets chunked; HTTP/1.0 has no chunked, so the body ends with the connection.
            let chunked = request.version.minor >= 1
            head.fields.removeAll(named: "Content-Length")
            head.fields.removeAll(named: "Transfer-Encoding")
            if chunked {
                try? head.fields.append(name: "Transfer-Encoding", value: "chunked")
            } else if keepAlive {
                head.fields.removeAll(named: "Connection")
                try? head.fields.append(name: "Connection", value: "close")
                closeAfterFlush = true
            }
            try HTTPSerializer.writeHead(head, into: &output)
            if isHead || bodiless { return 0 }
            let pending = output
            output.removeAll(keepingCapacity: true)
            try await stream.write(pending, deadline: .after(configuration.writeTimeout))
            let counter = ByteCounter()
            let writer = HTTPBodyWriter { [stream, configuration] piece in
                var bytes: [UInt8] = []
                if chunked { HTTPSerializer.writeChunk(piece, into: &bytes) } else { bytes = piece }
                counter.add(piece.count)
                try await stream.write(bytes, deadline: .after(configuration.writeTimeout))
            }
            try await produce(writer)
            if chunked { HTTPSerializer.writeLastChunk(into: &output) }
            return counter.total
        }
    }

    @discardableResult
    private mutating func emitError(_ error: HTTPError, closing: Bool) -> Int {
        var response = HTTPServer.errorResponse(error)
        try? response.fields.append(name: "Date", value: HTTPDate.now)
        if let serverName = configuration.serverName { try? response.fields.append(name: "Server", value: serverName) }
        if closing { try? response.fields.append(name: "Connection", value: "close") }
        guard case .bytes(let body) = response.body,
            let bytes = try? HTTPSerializer.response(
                HTTPResponseHead(status: response.status, fields: response.fields), body: body)
        else { return 0 }
        output.append(contentsOf: bytes)
        if closing { closeAfterFlush = true }
        return body.count
    }

    // MARK: I/O

    /// Writes what is pending; false when the connection is gone.
    private mutating func flush() async -> Bool {
        guard !output.isEmpty else { return true }
        do {
            try await stream.write(output, deadline: .after(configuration.writeTimeout))
            output.removeAll(keepingCapacity: true)
            return true
        } catch {
            return false
        }
    }

    /// Reads more bytes into the parser; false when the conversation is over.
    private mutating func readMore() async -> Bool {
        let deadline: Deadline
        let waitingForRequest = current == nil && parser.bufferedByteCount == 0
        if current != nil {
            deadline = .after(configuration.bodyTimeout)
        } else if let started = headStartedAt {
            deadline = .at(started + configuration.headerTimeout, limit: configuration.headerTimeout)
        } else {
            if server.isDraining { return false }
            deadline = .after(configuration.idleTimeout)
        }
        do {
            switch try await stream.read(into: &input, maxBytes: 64 * 1024, deadline: deadline) {
            case .bytes:
                if waitingForRequest {
                    open.idle.store(false, ordering: .releasing)
                    headStartedAt = .now
                }
                parser.receive(input[...])
                input.removeAll(keepingCapacity: true)
            case .endOfStream:
                // The client finished sending; answer what it sent, then close.
                parser.receiveEndOfStream()
                peerFinished = true
                if waitingForRequest { return false }
            }
            return true
        } catch SocketError.timedOut {
            if waitingForRequest { return false }
            emitError(HTTPError(status: 408, message: "the request did not arrive in time"), closing: true)
            _ = await flush()
            return false
        } catch {
            return false
        }
    }
}

/// Counts streamed body bytes for the access log.
final class ByteCounter: Sendable {
    private let count = Mutex(0)
    func add(_ n: Int) { count.withLock { $0 += n } }
    var total: Int { count.withLock { $0 } }
}
