import HTTPParser
import TCPSocket

/// One server-side HTTP/1.1 conversation over a ``ByteStream``.
///
/// The loop: take the parser's events (answering each complete request in order and appending
/// the response bytes to `output`) until the parser needs more bytes or `output` holds more
/// than ``outputHighWater``, write `output`, then — only when the parser has nothing left —
/// read more, with the deadline that fits where the conversation is:
///
/// | waiting for | deadline | when it passes |
/// |---|---|---|
/// | the first byte of the next request | `idleTimeout` | close quietly |
/// | the rest of a head | `headerTimeout` from the head's first byte | 408, close |
/// | the rest of a body | `bodyTimeout` from the end of the head | 408, close |
/// | the client to take our bytes | `writeTimeout` per piece of at most 256 KiB | close |
///
/// A client that pipelines requests but never reads gets at most `outputHighWater` bytes of
/// answers buffered; the rest waits in the socket and the parser, bounded by their limits.
struct HTTPServerConnection<Stream: ByteStream, Parser: HTTPMessageParsing> {
    /// Answers are written once this many bytes are pending, before more requests are parsed.
    static var outputHighWater: Int { 64 * 1024 }
    /// The most bytes handed to one write (each write has its own deadline).
    static var writePiece: Int { 256 * 1024 }

    let server: HTTPServer
    let stream: Stream
    let remoteAddress: SocketAddress?
    let open: HTTPServer.OpenConnection
    private var configuration: HTTPServerConfiguration { server.configuration }

    private var parser: Parser
    private var input: [UInt8] = []
    private var output: [UInt8] = []
    private var phase = Phase.idle
    private var lastMethod: HTTPMethod?

    /// Where the conversation is; each case carries the instant its deadline counts from.
    enum Phase {
        /// Between requests with nothing of the next one here: `idleTimeout`, and the only
        /// phase in which a graceful shutdown may close the connection.
        case idle
        /// Part of a head is here: `headerTimeout` from its first byte.
        case readingHead(since: ContinuousClock.Instant)
        /// A head has arrived and its body is being collected: `bodyTimeout` from the head's end.
        case readingBody(RequestInProgress)
        /// The answers pending are the last: flush them, then close. `lingering` (after an
        /// error answer, while the client may still be sending) drains its bytes first.
        case closing(lingering: Bool)
    }

    /// A request whose head has arrived.
    struct RequestInProgress {
        var head: HTTPRequestHead
        var body: [UInt8] = []
        /// When its head's first byte arrived (for the access log).
        var started: ContinuousClock.Instant
        /// When its head ended (for the body timeout).
        var bodyStarted: ContinuousClock.Instant
    }

    /// What stopped ``handleEvents()``.
    private enum EventsOutcome {
        /// The parser needs more bytes (or the connection is closing).
        case needsBytes
        /// Answers reached the output high-water mark: write them, then take more events.
        case outputFull
        /// A streamed response broke off after its head was sent.
        case streamBroke
    }

    /// What one ``readMore()`` achieved.
    private enum ReadOutcome {
        case received
        /// The client finished sending: answer what it sent, then close.
        case inputEnded
        /// The conversation is over.
        case over
    }

    /// A streamed body failed after its head was sent: the only honest end is to cut the connection.
    private struct StreamFailed: Error {}

    init(server: HTTPServer, stream: Stream, remoteAddress: SocketAddress?, open: HTTPServer.OpenConnection, parser: Parser) {
        self.server = server
        self.stream = stream
        self.remoteAddress = remoteAddress
        self.open = open
        self.parser = parser
        input.reserveCapacity(16 * 1024)
        output.reserveCapacity(4 * 1024)
    }

    mutating func run() async {
        var inputEnded = false
        while true {
            let events = await handleEvents()
            if case .streamBroke = events {
                // A reset (and over TLS no close_notify): the client cannot mistake a truncated
                // close-delimited body for a complete one.
                await stream.abort()
                return
            }
            guard await flush() else { return }
            if case .closing(let lingering) = phase {
                if lingering { await linger() }
                return
            }
            if case .outputFull = events { continue }
            if inputEnded { return }
            switch await readMore() {
            case .received: break
            case .inputEnded: inputEnded = true
            case .over: return
            }
        }
    }

    /// Makes the answers pending the last; an earlier wish to linger stays.
    private mutating func closeAfterFlush(lingering: Bool = false) {
        if case .closing(true) = phase { return }
        phase = .closing(lingering: lingering)
    }

    // MARK: Events

    /// Handles events until the parser needs bytes, the output is full, or the connection is
    /// closing.
    private mutating func handleEvents() async -> EventsOutcome {
        do {
            while true {
                if case .closing = phase { return .needsBytes }
                if output.count >= Self.outputHighWater { return .outputFull }
                guard let event = try parser.nextEvent() else { return .needsBytes }
                switch event {
                case .requestHead(let head):
                    let started: ContinuousClock.Instant = if case .readingHead(let since) = phase { since } else { .now }
                    phase = .readingBody(RequestInProgress(head: head, started: started, bodyStarted: .now))
                    if let problem = Self.hostProblem(head) {
                        emitError(HTTPError(status: 400, message: problem), closing: true)
                        return .needsBytes
                    }
                    // RFC 9110 §10.1.1: an HTTP/1.1 client waits for a 100 before sending the body
                    // (an HTTP/1.0 client's expectation must be ignored).
                    if head.expectsContinue && head.version.minor >= 1 && head.framing != .none
                        && parser.bufferedByteCount == 0
                    {
                        output.append(contentsOf: "HTTP/1.1 100 Continue\r\n\r\n".utf8)
                    }
                case .body(let bytes):
                    guard case .readingBody(var request) = phase else { continue }
                    phase = .idle  // the body array stays uniquely referenced while it grows
                    request.body.append(contentsOf: bytes)
                    phase = .readingBody(request)
                case .trailers, .responseHead:
                    break  // trailers carry nothing the server acts on; a request parser yields no responses
                case .endOfMessage:
                    guard case .readingBody(let request) = phase else { continue }
                    // Bytes of the next request already here start its header clock now.
                    phase = parser.bufferedByteCount > 0 ? .readingHead(since: .now) : .idle
                    try await answer(request)
                case .upgrade:
                    // NetLab's server speaks only HTTP/1.1: a CONNECT was answered (and its
                    // response said Connection: close), so the tunnel bytes are not read; an
                    // Upgrade is declined and the connection goes on as HTTP/1.1 (RFC 9110 §7.8).
                    if case .connect? = lastMethod { closeAfterFlush() } else { parser.declineUpgrade() }
                }
            }
        } catch let error as HTTPParseError {
            emitError(HTTPError(status: error.status, message: error.description), closing: true)
            return .needsBytes
        } catch {
            return .streamBroke
        }
    }

    /// RFC 9112 §3.2: an HTTP/1.1 request must carry exactly one Host.
    /// What RFC 9112 §3.2 refuses in a request's target and Host, each answered 400 (and the
    /// connection closed): the parser checked the bytes; these are the forms.
    static func hostProblem(_ head: HTTPRequestHead) -> String? {
        let hosts = head.fields.values(of: "Host")
        if head.version.minor >= 1 && hosts.isEmpty { return "an HTTP/1.1 request needs a Host field (RFC 9112 §3.2)" }
        if hosts.count > 1 { return "more than one Host field (RFC 9112 §3.2)" }
        if let host = hosts.first, !HTTPURL.isHostValue(host) { return "the Host field is not uri-host [ \":\" port ] (RFC 9110 §7.2)" }
        let target = head.target
        // Bytes, not Foundation's locale-aware search: this runs for every request.
        if target.utf8.contains(UInt8(ascii: "#")) { return "a request-target has no fragment (RFC 9112 §3.2)" }
        switch head.targetForm {
        case .origin: break
        case .asterisk where head.method != .options: return "the asterisk-form is for OPTIONS only (RFC 9112 §3.2.4)"
        case .asterisk: break
        case .authority: break  // CONNECT: answered, then closed
        case .absolute:
            // A target that is no http(s) URI here is an authority-form (`host:port`) or some
            // other scheme: neither is a request this server can answer.
            let lower = target.lowercased()
            guard lower.hasPrefix("http://") || lower.hasPrefix("https://") else {
                return "the authority-form is for CONNECT only; other requests send an origin-form or an http(s) absolute-form (RFC 9112 §3.2)"
            }
        }
        return nil
    }

    private mutating func answer(_ pending: RequestInProgress) async throws {
        lastMethod = pending.head.method
        let request = HTTPRequest(head: pending.head, body: pending.body, remoteAddress: remoteAddress)
        var response = await server.respond(to: request)
        if (100..<200).contains(response.status) {
            // Interim answers are the server's business (100-continue above); a handler's 1xx
            // would leave the request without its final response.
            response = server.errorResponse(HTTPError(status: 500))
        }
        // A CONNECT is never tunnelled here, and the bytes after it are not HTTP: close after it.
        let keepAlive = pending.head.keepAlive && !server.isDraining && pending.head.method != .connect
        let sent = try await emit(response, for: pending.head, keepAlive: keepAlive)
        if let log = configuration.accessLog {
            let elapsed = ContinuousClock.now - pending.started
            let micros = elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000
            log("\(remoteAddress?.description ?? "-") \"\(pending.head.method) \(server.loggedTarget(pending.head.target)) \(pending.head.version)\" \(response.status) \(sent) \(micros)µs")
        }
        if !keepAlive { closeAfterFlush() }
    }

    /// Appends (or, for streams, writes) the response; returns the number of body bytes sent.
    private mutating func emit(_ response: HTTPResponse, for request: HTTPRequestHead, keepAlive: Bool) async throws -> Int {
        var head = HTTPResponseHead(status: response.status, reason: response.reason, fields: response.fields)
        let bodiless = response.status == 204 || response.status == 304
        let isHead = request.method == .head
        if let serverName = configuration.serverName, !head.fields.contains("Server") {
            try? head.fields.append(name: "Server", value: serverName)
        }
        if !head.fields.contains("Date") { try? head.fields.append(name: "Date", value: HTTPDate.now) }
        head.fields.removeAll(named: "Connection")
        head.fields.removeAll(named: "Content-Length")
        head.fields.removeAll(named: "Transfer-Encoding")
        var closing = !keepAlive
        var streaming: (@Sendable (HTTPBodyWriter) async throws -> Void)?
        var body: [UInt8] = []
        switch response.body {
        case .bytes(let bytes):
            body = bytes
            if !bodiless { try? head.fields.append(name: "Content-Length", value: String(bytes.count)) }
        case .stream(let produce):
            if !bodiless {
                streaming = produce
                // HTTP/1.1 gets chunked; HTTP/1.0 has no chunked, so the body ends with the connection.
                if request.version.minor >= 1 {
                    try? head.fields.append(name: "Transfer-Encoding", value: "chunked")
                } else {
                    closing = true
                }
            }
        }
        if closing {
            try? head.fields.append(name: "Connection", value: "close")
        } else if request.version.minor == 0 {
            try? head.fields.append(name: "Connection", value: "keep-alive")
        }
        // Straight into the output; if the handler's head is invalid, what it wrote is cut off
        // again, so the answers already queued for earlier pipelined requests stay intact.
        let mark = output.count
        do {
            try HTTPSerializer.writeHead(head, into: &output)
        } catch {
            output.removeSubrange(mark...)
            return emitError(HTTPError(status: 500), closing: true)
        }
        if closing { closeAfterFlush() }
        if isHead || bodiless { return 0 }
        guard let produce = streaming else {
            output.append(contentsOf: body)
            return body.count
        }
        guard await flush() else { throw StreamFailed() }
        let chunked = request.version.minor >= 1
        let counter = ByteCounter()
        let writer = HTTPBodyWriter { [stream, configuration] piece in
            var bytes: [UInt8] = []
            if chunked { HTTPSerializer.writeChunk(piece, into: &bytes) } else { bytes = piece }
            counter.add(piece.count)
            try await stream.write(bytes, deadline: .after(configuration.writeTimeout))
        }
        do {
            try await produce(writer)
        } catch {
            configuration.accessLog?("streamed response to \(request.method) \(server.loggedTarget(request.target)) failed: \(error)")
            throw StreamFailed()
        }
        if chunked { HTTPSerializer.writeLastChunk(into: &output) }
        return counter.total
    }

    @discardableResult
    private mutating func emitError(_ error: HTTPError, closing: Bool) -> Int {
        var response = server.errorResponse(error)
        try? response.fields.append(name: "Date", value: HTTPDate.now)
        if let serverName = configuration.serverName { try? response.fields.append(name: "Server", value: serverName) }
        if closing { try? response.fields.append(name: "Connection", value: "close") }
        guard case .bytes(let body) = response.body,
            let bytes = try? HTTPSerializer.response(
                HTTPResponseHead(status: response.status, fields: response.fields), body: body)
        else { return 0 }
        output.append(contentsOf: bytes)
        if closing { closeAfterFlush(lingering: true) }
        return body.count
    }

    /// A "lingering close" (as Apache calls it): after an error answer, send our FIN, then read
    /// and discard what the client still sends, for at most a second and 256 KiB. Closing a
    /// socket with unread input makes the kernel send a RST, and a RST can destroy the error
    /// answer before the client has read it.
    private mutating func linger() async {
        try? await stream.shutdownWrite()
        let deadline = Deadline.after(.seconds(1))
        var discarded = 0
        while discarded < 256 * 1024 {
            input.removeAll(keepingCapacity: true)
            guard let result = try? await stream.read(into: &input, maxBytes: 16 * 1024, deadline: deadline),
                case .bytes(let n) = result
            else { return }
            discarded += n
        }
    }

    // MARK: I/O

    /// Writes what is pending, in pieces each with its own deadline; false when the
    /// connection is gone.
    private mutating func flush() async -> Bool {
        guard !output.isEmpty else { return true }
        do {
            if output.count <= Self.writePiece {
                try await stream.write(output, deadline: .after(configuration.writeTimeout))
            } else {
                var offset = 0
                while offset < output.count {
                    let end = min(offset + Self.writePiece, output.count)
                    try await stream.write(Array(output[offset..<end]), deadline: .after(configuration.writeTimeout))
                    offset = end
                }
            }
            output.removeAll(keepingCapacity: output.capacity <= 1 << 20)
            return true
        } catch {
            return false
        }
    }


    /// Reads more bytes into the parser, with the deadline of the phase the conversation is in.
    private mutating func readMore() async -> ReadOutcome {
        if case .idle = phase, parser.bufferedByteCount > 0 { phase = .readingHead(since: .now) }
        let deadline: Deadline
        switch phase {
        case .readingBody(let request):
            deadline = .at(request.bodyStarted + configuration.bodyTimeout, limit: configuration.bodyTimeout)
        case .readingHead(let since):
            deadline = .at(since + configuration.headerTimeout, limit: configuration.headerTimeout)
        case .idle:
            // The only moment a graceful shutdown may close us.
            guard open.becomeIdle() else { return .over }
            deadline = .after(configuration.idleTimeout)
        case .closing:
            return .over
        }
        let waitingForRequest = if case .idle = phase { true } else { false }
        do {
            let result = try await stream.read(into: &input, maxBytes: 64 * 1024, deadline: deadline)
            if waitingForRequest {
                // Lost the race with shutdown: it closed (or is closing) this connection, so these
                // bytes are not served — their handler must not run.
                guard open.becomeBusy() else { return .over }
            }
            switch result {
            case .bytes:
                if waitingForRequest { phase = .readingHead(since: .now) }
                parser.receive(input[...])
                input.removeAll(keepingCapacity: true)
                return .received
            case .endOfStream:
                parser.receiveEndOfStream()
                return waitingForRequest ? .over : .inputEnded
            }
        } catch SocketError.timedOut {
            if waitingForRequest { return .over }
            emitError(HTTPError(status: 408, message: "the request did not arrive in time"), closing: true)
            if await flush() { await linger() }
            return .over
        } catch {
            return .over
        }
    }
}

/// Counts streamed body bytes for the access log.
final class ByteCounter: Sendable {
    private let count = Locked(0)
    func add(_ n: Int) { count.withLock { $0 += n } }
    var total: Int { count.withLock { $0 } }
}
