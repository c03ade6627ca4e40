// Theory of operation
// ===================
//
// HTTPMessageParser is sans-IO: the caller feeds it bytes (`receive`), tells it when the peer
// has closed (`receiveEndOfStream`), and pulls events (`nextEvent`) until it returns nil,
// which means "need more bytes". It never reads a socket, never blocks, never allocates a
// String per field.
//
// (One file, over 500 lines, on purpose: the message state machine and its buffer are one
// concept whose transitions read best together; the byte-level scanners it drives — heads,
// chunk lines, framing rules — are already files of their own.)
//
// One message goes through these states (the `State` enum below):
//
//   idle ──▶ head ──▶ fixedBody | chunked ⇄ (chunk lines, data) ──▶ trailers | untilClose
//                  └──────────────────────────┬──────────────────────────┘
//                                        endOfMessage ──▶ idle (keep-alive)
//                                                     ──▶ closed (Connection: close, HTTP/1.0)
//                                                     ──▶ upgradePending ──▶ upgraded
//   any state ──▶ failed (an HTTPParseError; every later call rethrows it)
//
// Rule 1: every byte is examined once. The head and chunk-line machines remember where they
// stopped, so input split at any byte — one byte per call, or a megabyte — gives the same
// events, and a slow sender costs linear time (no rescans, unlike parsers that retry a whole
// head on every read).
//
// Rule 2: every limit is checked as bytes arrive: the head scanner never looks past
// `maxHeadSize`, a chunk line never past `maxChunkExtensionLength`, a body never past
// `maxBodySize`. Memory held is bounded by the limits plus what the caller feeds at once.
//
// Rule 3: framing comes from exactly one source (RFC 9112 §6.3). Content-Length and
// Transfer-Encoding together, two Content-Lengths, or a request Transfer-Encoding that does
// not end in chunked are errors, never guesses: guessing is how request smuggling works.
//
// Rule 4: a body piece is a slice of the parser's buffer (no copy). The buffer is compacted
// only between `receive` calls, so a slice stays valid; holding it past the next `receive`
// merely makes that compaction copy.

/// Size and count limits, each checked as bytes arrive. The defaults suit the payment flow's
/// JSON APIs; the status in parentheses is what a server answers when one is exceeded.
public struct HTTPLimits: Hashable, Sendable {
    /// Longest request-line, method + target + version (414). RFC 9112 §3 recommends at least 8,000.
    public var maxRequestLineLength = 8 * 1024
    /// Largest head: start line and all field lines, including CRLFs; also caps trailers (431).
    public var maxHeadSize = 16 * 1024
    /// Most field lines in a head or trailer section (431).
    public var maxFieldCount = 100
    /// Largest body after chunked decoding (413).
    public var maxBodySize = 16 * 1024 * 1024
    /// Longest run of chunk extensions on one chunk line (400); CVE-2024-22019 was their absence.
    public var maxChunkExtensionLength = 1024
    /// Most chunk-extension bytes in one message, all chunk lines together (400): without it,
    /// tiny chunks with long extensions make a client send a kilobyte per body byte.
    public var maxChunkExtensionBytesPerMessage = 16 * 1024
    /// Most empty lines (CRLF) skipped before a request-line (400; RFC 9112 §2.2 asks for at least one).
    public var maxLeadingEmptyLines = 16

    public init() {}

    /// Default limits except the body, which may be any size (for checks that do not read one).
    static var unlimitedBody: HTTPLimits {
        var limits = HTTPLimits()
        limits.maxBodySize = .max
        return limits
    }
}

/// Leniencies, all off by default. Each accepts input RFC 9112 lets a recipient accept, at a
/// risk named in its documentation.
public struct HTTPParserOptions: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Accept a lone LF as a line ending (RFC 9112 §2.2 allows it). Risk: a proxy in front that
    /// does not, reads the same bytes as different messages — a request-smuggling vector.
    public static let allowBareLF = HTTPParserOptions(rawValue: 1)
    /// Accept obs-fold and replace it with SP (RFC 9112 §5.2 allows this for user agents
    /// reading responses). Risk: the same as above; servers should reject (the default).
    public static let allowObsoleteLineFolding = HTTPParserOptions(rawValue: 2)
}

/// The seam of the HTTP layer: the operations a parser offers. ``HTTPMessageParser`` is the
/// reference; a student's parser conforms and drops into the server and client.
///
/// Call order: `receive` whatever bytes arrive, then call `nextEvent` until it returns nil;
/// repeat. Call `receiveEndOfStream` once when the peer closes, then drain `nextEvent` again.
public protocol HTTPMessageParsing {
    /// Appends bytes that arrived from the peer.
    mutating func receive(_ bytes: some Collection<UInt8>)
    /// Says the peer closed: no more bytes will come (this ends a close-delimited response).
    mutating func receiveEndOfStream()
    /// For response parsing: the method of the next request sent, in order, so a response to
    /// HEAD is known to have no body and a 2xx to CONNECT to start a tunnel.
    mutating func expectResponse(to method: HTTPMethod)
    /// The next event, or nil when more bytes are needed. After an error, rethrows it forever.
    mutating func nextEvent() throws(HTTPParseError) -> HTTPEvent?
    /// Bytes received but not yet turned into events. The server reads it to tell whether a
    /// client that sent `Expect: 100-continue` is still waiting, and when the next request's
    /// header clock starts; the client, whether a connection may be reused. (Default: 0.)
    var bufferedByteCount: Int { get }
    /// After an `.upgrade` event the server declined (it answered without switching): go on
    /// parsing requests. (Default: nothing — a parser that never upgrades needs nothing.)
    mutating func declineUpgrade()
}

extension HTTPMessageParsing {
    /// Feeds the UTF-8 bytes of `text`.
    public mutating func receive(_ text: String) { receive(Array(text.utf8)) }
    public var bufferedByteCount: Int { 0 }
    public mutating func declineUpgrade() {}
}

/// Makes the parser for one connection: what the server (requests) and client (responses) use
/// when a student's parser is plugged in (``HTTPMessageParser`` otherwise).
public typealias HTTPParserFactory = @Sendable (HTTPMessageParser.Kind, HTTPLimits) -> any HTTPMessageParsing

/// Any parser behind the seam, as a concrete type the server and client are generic over (the
/// reference parser is used directly, without this box, so it costs nothing when unused).
public struct AnyHTTPMessageParser: HTTPMessageParsing {
    public var base: any HTTPMessageParsing

    public init(_ base: any HTTPMessageParsing) { self.base = base }

    public mutating func receive(_ bytes: some Collection<UInt8>) { base.receive(Array(bytes)) }
    public mutating func receiveEndOfStream() { base.receiveEndOfStream() }
    public mutating func expectResponse(to method: HTTPMethod) { base.expectResponse(to: method) }
    public mutating func nextEvent() throws(HTTPParseError) -> HTTPEvent? { try base.nextEvent() }
    public var bufferedByteCount: Int { base.bufferedByteCount }
    public mutating func declineUpgrade() { base.declineUpgrade() }
}

/// A strict, incremental, sans-IO HTTP/1.1 parser (RFC 9112) for requests or responses.
///
/// ```swift
/// var parser = HTTPMessageParser(parsing: .requests)
/// parser.receive(bytesFromSocket)
/// while let event = try parser.nextEvent() {
///     switch event {
///     case .requestHead(let head): print(head.method, head.target, head.fields["Host"] ?? "-")
///     case .body(let bytes): body += bytes
///     case .trailers, .responseHead: break
///     case .endOfMessage: respond()
///     case .upgrade(let rest): switchProtocols(rest)
///     }
/// }
/// ```
public struct HTTPMessageParser: HTTPMessageParsing, Sendable {
    public enum Kind: Hashable, Sendable {
        /// Server side: parse requests.
        case requests
        /// Client side: parse responses.
        case responses
    }

    public let kind: Kind
    public let limits: HTTPLimits
    public let options: HTTPParserOptions

    private enum State {
        case idle
        case head
        case fixedBody(remaining: UInt64)
        case chunked
        case untilClose
        case trailers
        case endOfMessage
        case upgradePending
        case upgraded
        case closed
        case failed(HTTPParseError)
    }

    private enum AfterMessage {
        case nextMessage, close, upgrade
    }

    private var state = State.idle
    private var buffer: [UInt8] = []
    /// Index in `buffer` of the next byte not yet consumed.
    private var position = 0
    /// Stream offset of `buffer[0]` (for error offsets).
    private var base = 0
    /// Index in `buffer` of the first byte of the head or trailer section being scanned.
    private var headStart = 0
    private var scanner = HeadScanner(startingWith: .method)
    private var chunk = ChunkLineScanner()
    private var bodyBytes: UInt64 = 0
    private var afterMessage = AfterMessage.nextMessage
    private var endOfStream = false
    /// Empty lines skipped before the current request-line.
    private var emptyLines = 0
    /// In `.upgraded`: bytes before this index were already handed out with `.upgrade`.
    private var upgradeDelivered = 0
    private var methodsAwaitingResponse: [HTTPMethod] = []
    private var nextMethodIndex = 0
    private let rules: HeadScanner.Rules

    public init(parsing kind: Kind, limits: HTTPLimits = HTTPLimits(), options: HTTPParserOptions = []) {
        self.kind = kind
        self.limits = limits
        self.options = options
        rules = HeadScanner.Rules(
            allowBareLF: options.contains(.allowBareLF),
            allowObsoleteLineFolding: options.contains(.allowObsoleteLineFolding),
            maxRequestLineLength: limits.maxRequestLineLength, maxHeadSize: limits.maxHeadSize,
            maxFieldCount: limits.maxFieldCount)
    }

    /// Bytes received but not yet turned into events.
    public var bufferedByteCount: Int { buffer.count - position }

    // MARK: Input

    public mutating func receive(_ bytes: some Collection<UInt8>) {
        compact()
        // Nothing buffered: share the caller's array instead of copying it (copy-on-write
        // keeps the caller's later changes out of the parser).
        if buffer.isEmpty, let array = bytes as? [UInt8] {
            buffer = array
            return
        }
        buffer.append(contentsOf: bytes)
    }

    public mutating func receiveEndOfStream() {
        endOfStream = true
    }

    public mutating func expectResponse(to method: HTTPMethod) {
        methodsAwaitingResponse.append(method)
    }

    /// After a request's `.upgrade` event: the server declines to switch protocols (RFC 9110
    /// §7.8 lets it ignore Upgrade), so the bytes after the request are parsed as HTTP again.
    /// Does nothing in any other state. (Declining a CONNECT means answering with a non-2xx and
    /// closing; the parser simply goes on.)
    public mutating func declineUpgrade() {
        guard case .upgraded = state else { return }
        state = .idle
    }

    /// Drops consumed bytes from the front of the buffer when that is cheap relative to the
    /// buffer's size (all of it, or at least half and 4 KiB).
    private mutating func compact() {
        let keepFrom: Int
        switch state {
        case .head, .trailers: keepFrom = headStart
        default: keepFrom = position
        }
        // (In `.upgraded` nothing is consumed, so everything stays for a possible declineUpgrade;
        // `upgradeDelivered` moves with the rest.)
        guard keepFrom > 0, keepFrom == buffer.count || (keepFrom >= 4096 && keepFrom * 2 >= buffer.count) else {
            return
        }
        if keepFrom == buffer.count {
            buffer.removeAll(keepingCapacity: true)
        } else {
            buffer.removeSubrange(0..<keepFrom)
        }
        base += keepFrom
        position -= keepFrom
        headStart -= keepFrom
        upgradeDelivered = max(0, upgradeDelivered - keepFrom)
    }

    // MARK: Events

    public mutating func nextEvent() throws(HTTPParseError) -> HTTPEvent? {
        do {
            return try step()
        } catch {
            state = .failed(error)
            throw error
        }
    }

    private mutating func step() throws(HTTPParseError) -> HTTPEvent? {
        while true {
            switch state {
            case .failed(let error):
                throw error

            case .idle:
                guard try skipEmptyLines() else { return nil }
                headStart = position
                scanner = HeadScanner(startingWith: kind == .requests ? .method : .statusVersion)
                state = .head

            case .head:
                guard let length = try scanHead() else { return try needMore() }
                position = headStart + length
                return try makeHead(length: length)

            case .fixedBody(let remaining):
                let available = buffer.count - position
                guard available > 0 else { return try needMore() }
                let n = Int(min(UInt64(available), remaining))
                let piece = buffer[position..<(position + n)]
                position += n
                state = remaining == UInt64(n) ? .endOfMessage : .fixedBody(remaining: remaining - UInt64(n))
                return .body(piece)

            case .chunked:
                if let piece = try chunkedStep() { return .body(piece) }
                if case .chunked = state { return try needMore() }

            case .untilClose:
                let available = buffer.count - position
                if available > 0 {
                    // Hand out what fits; the error names the first byte past the limit,
                    // wherever the input was split.
                    let room = UInt64(limits.maxBodySize) - bodyBytes
                    guard room > 0 else { throw .bodyTooLarge(limit: limits.maxBodySize, offset: base + position) }
                    let n = Int(min(UInt64(available), room))
                    bodyBytes += UInt64(n)
                    let piece = buffer[position..<(position + n)]
                    position += n
                    return .body(piece)
                }
                guard endOfStream else { return nil }
                state = .endOfMessage

            case .trailers:
                guard let length = try scanHead() else { return try needMore() }
                position = headStart + length
                state = .endOfMessage
                if !scanner.fields.isEmpty { return .trailers(copyFields(length: length)) }

            case .endOfMessage:
                switch afterMessage {
                case .nextMessage: state = .idle
                case .close: state = .closed
                case .upgrade: state = .upgradePending
                }
                return .endOfMessage

            case .upgradePending:
                // The bytes stay in the buffer (unconsumed) until the caller accepts the switch
                // by using them, or calls declineUpgrade() to parse them as HTTP after all.
                state = .upgraded
                upgradeDelivered = buffer.count
                return .upgrade(remaining: Array(buffer[position...]))

            case .upgraded:
                guard upgradeDelivered < buffer.count else { return nil }
                defer { upgradeDelivered = buffer.count }
                return .upgrade(remaining: Array(buffer[upgradeDelivered...]))

            case .closed:
                guard position == buffer.count else { throw .dataAfterClose(offset: base + position) }
                return nil
            }
        }
    }

    /// nil for "need more" — called once everything buffered has been consumed or scanned — or
    /// the incomplete-message error when no more will come.
    private func needMore() throws(HTTPParseError) -> HTTPEvent? {
        if endOfStream { throw .incompleteMessage(offset: base + buffer.count) }
        return nil
    }

    /// RFC 9112 §2.2: a server SHOULD ignore at least one empty line (CRLF) received before the
    /// request-line. Clients meet the same after a body some servers end with an extra CRLF, so
    /// responses get the same treatment (a bounded number of lines). Returns true when a start
    /// line's first byte is next.
    private mutating func skipEmptyLines() throws(HTTPParseError) -> Bool {
        while position < buffer.count {
            switch buffer[position] {
            case Grammar.cr:
                guard position + 1 < buffer.count else { return false }
                guard buffer[position + 1] == Grammar.lf else { throw .bareCR(offset: base + position) }
                try countEmptyLine()
                position += 2
            case Grammar.lf:
                guard options.contains(.allowBareLF) else { throw .bareLF(offset: base + position) }
                try countEmptyLine()
                position += 1
            default:
                emptyLines = 0
                return true
            }
        }
        return false
    }

    private mutating func countEmptyLine() throws(HTTPParseError) {
        emptyLines += 1
        if emptyLines > limits.maxLeadingEmptyLines {
            throw .tooManyEmptyLines(limit: limits.maxLeadingEmptyLines, offset: base + position)
        }
    }

    private mutating func scanHead() throws(HTTPParseError) -> Int? {
        let (start, offset, rules) = (headStart, base + headStart, rules)
        return try buffer.withUnsafeBufferPointer { all throws(HTTPParseError) in
            try scanner.scan(UnsafeBufferPointer(rebasing: all[start...]), base: offset, rules: rules)
        }
    }

    /// The scanned head's bytes as HTTPFields storage (one copy), obs-folds turned into SP.
    private func copyFields(length: Int) -> HTTPFields {
        var storage = Array(buffer[headStart..<(headStart + length)])
        if scanner.foldedValues {
            for entry in scanner.fields {
                for i in entry.value where storage[i] == Grammar.cr || storage[i] == Grammar.lf || storage[i] == Grammar.htab {
                    storage[i] = Grammar.sp
                }
            }
        }
        return HTTPFields(storage: storage, entries: scanner.fields)
    }

    // MARK: Heads and framing

    private mutating func makeHead(length: Int) throws(HTTPParseError) -> HTTPEvent {
        let fields = copyFields(length: length)
        let storage = fields.storage
        let versionAt = scanner.versionStart
        let version = HTTPVersion(major: storage[versionAt + 5] - 0x30, minor: storage[versionAt + 7] - 0x30)
        let facts = try scanner.finishedFraming(fields, base: base + headStart, version: version)

        bodyBytes = 0
        switch kind {
        case .requests:
            let method = HTTPMethod(bytes: storage[0..<scanner.methodEnd])
            let target = String(decoding: storage[scanner.targetStart..<scanner.targetEnd], as: UTF8.self)
            var head = HTTPRequestHead(method: method, target: target, version: version, fields: fields)
            // RFC 9110 §9.3.6: "A CONNECT request message does not have content." One that
            // announces some anyway is refused: readers would disagree where the tunnel starts.
            if method == .connect, facts.contentLength != nil || facts.hasTransferEncoding {
                throw .framingOnConnect(offset: max(facts.contentLengthOffset, facts.transferEncodingOffset))
            }
            head.framing = method == .connect ? .none : try facts.requestFraming(limits: limits)
            head.keepAlive = facts.keepAlive(version: version)
            head.expectsContinue = facts.expectsContinue
            // RFC 9110 §7.8: a server MUST ignore Upgrade in an HTTP/1.0 request.
            let upgrade = method == .connect || (facts.upgradeRequested && facts.hasUpgradeField && version.minor >= 1)
            afterMessage = upgrade ? .upgrade : head.keepAlive ? .nextMessage : .close
            enterBody(head.framing)
            return .requestHead(head)

        case .responses:
            let status =
                Int(storage[scanner.statusCodeStart] - 0x30) * 100 + Int(storage[scanner.statusCodeStart + 1] - 0x30) * 10
                + Int(storage[scanner.statusCodeStart + 2] - 0x30)
            let reason = String(decoding: storage[scanner.reasonStart..<scanner.reasonEnd], as: UTF8.self)
            var head = HTTPResponseHead(status: status, reason: reason, version: version, fields: fields)
            let informational = (100..<200).contains(status) && status != 101
            let method = informational ? nil : nextRequestMethod()
            let tunnel = status == 101 || (method == .connect && (200..<300).contains(status))
            head.framing =
                informational || tunnel || method == .head || status == 204 || status == 304
                ? .none : try facts.responseFraming(limits: limits)
            head.keepAlive = facts.keepAlive(version: version) && head.framing != .untilClose
            afterMessage = tunnel ? .upgrade : head.keepAlive || informational ? .nextMessage : .close
            enterBody(head.framing)
            return .responseHead(head)
        }
    }

    private mutating func nextRequestMethod() -> HTTPMethod? {
        guard nextMethodIndex < methodsAwaitingResponse.count else { return nil }
        defer {
            nextMethodIndex += 1
            if nextMethodIndex == methodsAwaitingResponse.count {
                methodsAwaitingResponse.removeAll(keepingCapacity: true)
                nextMethodIndex = 0
            }
        }
        return methodsAwaitingResponse[nextMethodIndex]
    }

    private mutating func enterBody(_ framing: HTTPBodyFraming) {
        switch framing {
        case .none: state = .endOfMessage
        case .length(let n): state = n == 0 ? .endOfMessage : .fixedBody(remaining: n)
        case .chunked:
            chunk = ChunkLineScanner()
            state = .chunked
        case .untilClose: state = .untilClose
        }
    }

    // MARK: Chunked bodies

    /// Advances through chunk lines and chunk data; returns a piece of data when there is one.
    /// Leaves `state` as `.chunked` when it needs more bytes, or moves it to `.trailers`.
    private mutating func chunkedStep() throws(HTTPParseError) -> ArraySlice<UInt8>? {
        while position < buffer.count {
            if chunk.dataRemaining > 0 {
                let n = Int(min(UInt64(buffer.count - position), chunk.dataRemaining))
                let piece = buffer[position..<(position + n)]
                position += n
                chunk.dataRemaining -= UInt64(n)
                return piece
            }
            let (start, offset, allowBareLF, limits) = (position, base + position, options.contains(.allowBareLF), limits)
            let outcome = try buffer.withUnsafeBufferPointer { all throws(HTTPParseError) in
                try chunk.scan(
                    UnsafeBufferPointer(rebasing: all[start...]), base: offset, allowBareLF: allowBareLF, limits: limits)
            }
            position += outcome.consumed
            switch outcome.result {
            case .needMore:
                return nil
            case .dataFollows(let size):
                // bodyBytes never exceeds the limit, so this subtraction cannot underflow and the
                // comparison cannot overflow (a 16-hex-digit size is close to UInt64.max).
                guard size <= UInt64(limits.maxBodySize) - bodyBytes else {
                    throw .bodyTooLarge(limit: limits.maxBodySize, offset: base + position)
                }
                bodyBytes += size
                chunk.dataRemaining = size
            case .lastChunk:
                headStart = position
                scanner = HeadScanner(startingWith: .fieldLineStart)
                state = .trailers
                return nil
            }
        }
        return nil
    }
}

extension HTTPMethod {
    /// The method from its bytes (already checked to be a token); common methods without
    /// building a new String.
    init(bytes: ArraySlice<UInt8>) {
        switch bytes.count {
        case 3 where bytes.elementsEqual("GET".utf8): self = .get
        case 4 where bytes.elementsEqual("POST".utf8): self = .post
        case 3 where bytes.elementsEqual("PUT".utf8): self = .put
        case 4 where bytes.elementsEqual("HEAD".utf8): self = .head
        case 6 where bytes.elementsEqual("DELETE".utf8): self = .delete
        default: self.init(uncheckedToken: String(decoding: bytes, as: UTF8.self))
        }
    }
}
