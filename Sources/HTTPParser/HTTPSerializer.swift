/// Why the serializer refused to write a message. Each is something the parser would reject,
/// so NetLab never sends what it would not accept.
public enum HTTPSerializeError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The request-target is empty or holds SP, a control byte or DEL (RFC 9112 §3.2).
    case invalidRequestTarget(String)
    /// The status code is not three digits (RFC 9112 §4).
    case invalidStatusCode(Int)
    /// The reason phrase holds a control byte (RFC 9112 §4).
    case invalidReasonPhrase(String)
    /// Framing fields the parser would reject: Content-Length with Transfer-Encoding, two
    /// Content-Lengths, a malformed one, or a request Transfer-Encoding other than a single
    /// final chunked (RFC 9112 §6.1, §6.3).
    case conflictingFraming
    /// A version other than HTTP/1.0-1.9: NetLab speaks HTTP/1.x only.
    case unsupportedVersion(HTTPVersion)
    /// The body does not match the framing the fields announce.
    case bodyDoesNotMatchFraming(String)

    public var description: String {
        switch self {
        case .invalidRequestTarget(let t): "request-target \"\(t)\" is empty or holds SP/CTL (RFC 9112 §3.2)"
        case .invalidStatusCode(let s): "status code \(s) is not three digits (RFC 9112 §4)"
        case .invalidReasonPhrase(let r): "reason phrase \"\(r)\" holds a control byte (RFC 9112 §4)"
        case .conflictingFraming: "framing fields a parser would reject: CL with TE, two CLs, or a request TE not ending in one chunked (RFC 9112 §6)"
        case .unsupportedVersion(let v): "\(v) is not HTTP/1.x"
        case .bodyDoesNotMatchFraming(let why): why
        }
    }
}

/// Turns heads, bodies and chunks into bytes, appending to a caller's buffer so a whole
/// response can go out in one write.
///
/// Header injection is impossible by construction: ``HTTPFields`` only ever holds token names
/// and values without CR/LF/NUL (checked when a field is added), and the start-line parts are
/// checked here.
public enum HTTPSerializer {
    /// `method SP request-target SP HTTP-version CRLF`, the fields, CRLF.
    public static func writeHead(_ head: HTTPRequestHead, into out: inout [UInt8]) throws(HTTPSerializeError) {
        let target = head.target.utf8
        guard !target.isEmpty, target.allSatisfy({ Grammar.targetByte[Int($0)] }) else {
            throw .invalidRequestTarget(head.target)
        }
        try checkFraming(head.fields, request: true)
        try checkVersion(head.version)
        out.append(contentsOf: head.method.rawValue.utf8)
        out.append(Grammar.sp)
        out.append(contentsOf: target)
        out.append(Grammar.sp)
        appendVersion(head.version, into: &out)
        out.append(Grammar.cr)
        out.append(Grammar.lf)
        appendFields(head.fields, into: &out)
    }

    /// `HTTP-version SP status-code SP reason-phrase CRLF`, the fields, CRLF.
    public static func writeHead(_ head: HTTPResponseHead, into out: inout [UInt8]) throws(HTTPSerializeError) {
        guard (100...999).contains(head.status) else { throw .invalidStatusCode(head.status) }
        guard head.reason.utf8.allSatisfy({ Grammar.reasonByte[Int($0)] }) else {
            throw .invalidReasonPhrase(head.reason)
        }
        try checkFraming(head.fields, request: false)
        try checkVersion(head.version)
        appendVersion(head.version, into: &out)
        out.append(Grammar.sp)
        appendDecimal(head.status, into: &out)
        out.append(Grammar.sp)
        out.append(contentsOf: head.reason.utf8)
        out.append(Grammar.cr)
        out.append(Grammar.lf)
        appendFields(head.fields, into: &out)
    }

    /// One chunk: `chunk-size CRLF chunk-data CRLF` (RFC 9112 §7.1). An empty `data` writes
    /// nothing (an empty chunk would be the last-chunk).
    public static func writeChunk(_ data: some Collection<UInt8>, into out: inout [UInt8]) {
        guard !data.isEmpty else { return }
        out.append(contentsOf: String(data.count, radix: 16).utf8)
        out.append(Grammar.cr)
        out.append(Grammar.lf)
        out.append(contentsOf: data)
        out.append(Grammar.cr)
        out.append(Grammar.lf)
    }

    /// `last-chunk trailer-section CRLF`: `0 CRLF`, the trailer fields, `CRLF`.
    public static func writeLastChunk(trailers: HTTPFields = HTTPFields(), into out: inout [UInt8]) {
        out.append(UInt8(ascii: "0"))
        out.append(Grammar.cr)
        out.append(Grammar.lf)
        appendFields(trailers, into: &out)
    }

    /// A complete request: the head with `Content-Length` set from `body` (unless the head
    /// already frames its body with chunked, in which case the body is sent as one chunk).
    public static func request(_ head: HTTPRequestHead, body: [UInt8] = []) throws(HTTPSerializeError) -> [UInt8] {
        var head = head
        var out: [UInt8] = []
        try frame(&head.fields, body: body, mayOmitEmpty: true, request: true)
        try writeHead(head, into: &out)
        appendBody(body, chunked: isChunked(head.fields), into: &out)
        return out
    }

    /// A complete response, framed like ``request(_:body:)``. For responses that have no body
    /// by definition (1xx, 204, 304) no Content-Length is added and `body` must be empty.
    public static func response(_ head: HTTPResponseHead, body: [UInt8] = []) throws(HTTPSerializeError) -> [UInt8] {
        var head = head
        var out: [UInt8] = []
        let bodiless = (100..<200).contains(head.status) || head.status == 204 || head.status == 304
        if bodiless {
            guard body.isEmpty else { throw .bodyDoesNotMatchFraming("a \(head.status) response has no body") }
            // RFC 9110 §8.6, RFC 9112 §6.1: 1xx and 204 must not carry framing fields (a 304 may
            // repeat those of the 200 it stands for, but never has a body either).
            if head.status != 304, head.fields.contains("Content-Length") || head.fields.contains("Transfer-Encoding") {
                throw .bodyDoesNotMatchFraming("a \(head.status) response carries no Content-Length or Transfer-Encoding")
            }
            try writeHead(head, into: &out)
            return out
        }
        try frame(&head.fields, body: body, mayOmitEmpty: false, request: false)
        try writeHead(head, into: &out)
        appendBody(body, chunked: isChunked(head.fields), into: &out)
        return out
    }

    // MARK: Helpers

    private static func frame(_ fields: inout HTTPFields, body: [UInt8], mayOmitEmpty: Bool, request: Bool)
        throws(HTTPSerializeError)
    {
        try checkFraming(fields, request: request)
        if isChunked(fields) { return }
        if let declared = fields["Content-Length"] {
            // Compared as the parser reads it (RFC 9110 §8.6: `1*DIGIT`, so "003" is 3, and a
            // list of one repeated value is that value), never as text.
            guard (try? framingFacts(fields))?.contentLength == UInt64(body.count) else {
                throw .bodyDoesNotMatchFraming("Content-Length \(declared) but the body has \(body.count) bytes")
            }
            return
        }
        if body.isEmpty && mayOmitEmpty { return }
        // A decimal number is always a valid field value.
        try? fields.append(name: "Content-Length", value: String(body.count))
    }

    private static func appendBody(_ body: [UInt8], chunked: Bool, into out: inout [UInt8]) {
        if chunked {
            writeChunk(body, into: &out)
            writeLastChunk(into: &out)
        } else {
            out.append(contentsOf: body)
        }
    }

    /// Whether the fields frame the body with chunked as the final coding — decided by the
    /// parser's own rules, so both sides agree.
    private static func isChunked(_ fields: HTTPFields) -> Bool {
        (try? framingFacts(fields))?.chunkedLast ?? false
    }

    /// Reads the framing fields exactly as the parser would, so nothing is sent that the
    /// parser (or any strict peer) would frame differently or reject.
    private static func checkFraming(_ fields: HTTPFields, request: Bool) throws(HTTPSerializeError) {
        do throws(HTTPParseError) {
            let facts = try framingFacts(fields)
            if request { _ = try facts.requestFraming(limits: HTTPLimits.unlimitedBody) }
        } catch {
            throw .conflictingFraming
        }
    }

    private static func framingFacts(_ fields: HTTPFields) throws(HTTPParseError) -> FramingFacts {
        var facts = FramingFacts()
        try fields.storage.withUnsafeBufferPointer { storage throws(HTTPParseError) in
            for entry in fields.entries {
                try facts.observe(
                    name: UnsafeBufferPointer(rebasing: storage[entry.name]),
                    value: UnsafeBufferPointer(rebasing: storage[entry.value]), nameOffset: 0, valueOffset: 0)
            }
        }
        return facts
    }

    private static func checkVersion(_ version: HTTPVersion) throws(HTTPSerializeError) {
        guard version.major == 1, version.minor <= 9 else { throw .unsupportedVersion(version) }
    }

    private static func appendVersion(_ version: HTTPVersion, into out: inout [UInt8]) {
        out.append(contentsOf: "HTTP/".utf8)
        out.append(UInt8(ascii: "0") + version.major)
        out.append(UInt8(ascii: "."))
        out.append(UInt8(ascii: "0") + version.minor)
    }

    private static func appendDecimal(_ value: Int, into out: inout [UInt8]) {
        out.append(contentsOf: String(value).utf8)
    }

    private static func appendFields(_ fields: HTTPFields, into out: inout [UInt8]) {
        for entry in fields.entries {
            out.append(contentsOf: fields.storage[entry.name])
            out.append(Grammar.colon)
            out.append(Grammar.sp)
            out.append(contentsOf: fields.storage[entry.value])
            out.append(Grammar.cr)
            out.append(Grammar.lf)
        }
        out.append(Grammar.cr)
        out.append(Grammar.lf)
    }
}
