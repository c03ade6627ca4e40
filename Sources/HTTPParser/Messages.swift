/// `HTTP-version = HTTP-name "/" DIGIT "." DIGIT` (RFC 9112 §2.3).
public struct HTTPVersion: Hashable, Sendable, CustomStringConvertible {
    public var major: UInt8
    public var minor: UInt8

    public init(major: UInt8, minor: UInt8) {
        self.major = major
        self.minor = minor
    }

    public static let http1_0 = HTTPVersion(major: 1, minor: 0)
    public static let http1_1 = HTTPVersion(major: 1, minor: 1)

    public var description: String { "HTTP/\(major).\(minor)" }
}

/// A request method: any token (RFC 9110 §9.1), compared case-sensitively
/// (`GET` and `get` are different methods).
public struct HTTPMethod: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let rawValue: String

    /// - Precondition: `rawValue` is a token (non-empty, tchar only). Use ``init(validating:)``
    ///   for text from elsewhere.
    public init(_ rawValue: String) {
        precondition(HTTPMethod.isToken(rawValue), "not an HTTP method token: \(rawValue)")
        self.rawValue = rawValue
    }

    /// A method from text that might not be a token; `nil` if it is not.
    public init?(validating text: String) {
        guard HTTPMethod.isToken(text) else { return nil }
        rawValue = text
    }

    public init(stringLiteral value: String) { self.init(value) }

    init(uncheckedToken: String) { rawValue = uncheckedToken }

    public static let get = HTTPMethod(uncheckedToken: "GET")
    public static let head = HTTPMethod(uncheckedToken: "HEAD")
    public static let post = HTTPMethod(uncheckedToken: "POST")
    public static let put = HTTPMethod(uncheckedToken: "PUT")
    public static let delete = HTTPMethod(uncheckedToken: "DELETE")
    public static let connect = HTTPMethod(uncheckedToken: "CONNECT")
    public static let options = HTTPMethod(uncheckedToken: "OPTIONS")
    public static let trace = HTTPMethod(uncheckedToken: "TRACE")
    public static let patch = HTTPMethod(uncheckedToken: "PATCH")

    public var description: String { rawValue }

    static func isToken(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { Grammar.tchar[Int($0)] }
    }
}

/// The header (or trailer) fields of one message, in the order received, names in the case
/// received, repeated fields kept (RFC 9110 §5.2-5.3).
///
/// Storage is one byte array plus one range pair per field, so parsing a head allocates twice,
/// not once per field; ``subscript(_:)-(String)`` and ``values(of:)`` look names up
/// case-insensitively. Read names and values as bytes with ``withName(at:_:)`` /
/// ``withValue(at:_:)`` to avoid allocating Strings at all.
public struct HTTPFields: Sendable, Hashable, Sequence, CustomStringConvertible {
    /// One field line: byte ranges of its name and (trimmed) value in `storage`.
    @usableFromInline
    struct Entry: Sendable, Hashable {
        var name: Range<Int>
        var value: Range<Int>
    }

    @usableFromInline var storage: [UInt8]
    @usableFromInline var entries: [Entry]

    public init() {
        storage = []
        entries = []
    }

    /// Fields from (name, value) pairs.
    ///
    /// - Precondition: each name is a token and each value holds no CR, LF, NUL or other control
    ///   byte except HTAB (RFC 9110 §5.1, §5.5), and has no leading or trailing whitespace.
    ///   The serializer relies on this: header injection cannot be built from HTTPFields.
    ///   Use ``append(name:value:)`` (which throws) for values from outside.
    public init(_ pairs: KeyValuePairs<String, String>) {
        self.init()
        for (name, value) in pairs {
            do {
                try append(name: name, value: value)
            } catch {
                preconditionFailure("\(error)")
            }
        }
    }

    init(storage: [UInt8], entries: [Entry]) {
        self.storage = storage
        self.entries = entries
    }

    /// Adds a field at the end, after checking that the name is a token and the value is
    /// valid field content (so the serializer can never be made to emit CR or LF).
    public mutating func append(name: String, value: String) throws(HTTPFieldError) {
        guard HTTPMethod.isToken(name) else { throw .invalidName(name) }
        let valueBytes = value.utf8
        let allowed = Grammar.fieldValueTable
        if let bad = valueBytes.firstIndex(where: { !allowed[Int($0)] }) {
            throw .invalidValue(name: name, offset: valueBytes.distance(from: valueBytes.startIndex, to: bad), byte: valueBytes[bad])
        }
        if let first = valueBytes.first, let last = valueBytes.last, Grammar.isOWS(first) || Grammar.isOWS(last) {
            throw .surroundingWhitespace(name: name)
        }
        // A head has a handful of fields: room for them at once, not a regrowth per field.
        if entries.capacity == 0 {
            entries.reserveCapacity(8)
            storage.reserveCapacity(256)
        }
        let nameStart = storage.count
        storage.append(contentsOf: name.utf8)
        let valueStart = storage.count
        storage.append(contentsOf: valueBytes)
        entries.append(Entry(name: nameStart..<valueStart, value: valueStart..<storage.count))
    }

    /// Removes every field called `name` (case-insensitive).
    public mutating func removeAll(named name: String) {
        guard entries.contains(where: { nameMatches($0, name) }) else { return }  // the usual case: no copy
        let storage = storage  // shared, not copied: the closure reads names while entries change
        entries.removeAll { Self.nameMatches($0, name, in: storage) }
    }

    /// Number of field lines.
    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }

    /// The name of field `index` as received.
    public func name(at index: Int) -> String { String(decoding: storage[entries[index].name], as: UTF8.self) }
    /// The value of field `index`, without leading or trailing whitespace.
    public func value(at index: Int) -> String { String(decoding: storage[entries[index].value], as: UTF8.self) }

    /// Calls `body` with the bytes of the name of field `index` (no allocation).
    public func withName<R>(at index: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try storage.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[entries[index].name])) }
    }

    /// Calls `body` with the bytes of the value of field `index` (no allocation).
    public func withValue<R>(at index: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try storage.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[entries[index].value])) }
    }

    /// The first value of the field called `name` (case-insensitive), or nil.
    public subscript(_ name: String) -> String? {
        guard let entry = entries.first(where: { nameMatches($0, name) }) else { return nil }
        return String(decoding: storage[entry.value], as: UTF8.self)
    }

    /// Every value of the fields called `name`, in order.
    public func values(of name: String) -> [String] {
        entries.filter { nameMatches($0, name) }.map { String(decoding: storage[$0.value], as: UTF8.self) }
    }

    /// Whether a field called `name` is present.
    public func contains(_ name: String) -> Bool { entries.contains { nameMatches($0, name) } }

    private func nameMatches(_ entry: Entry, _ name: String) -> Bool {
        Self.nameMatches(entry, name, in: storage)
    }

    private static func nameMatches(_ entry: Entry, _ name: String, in storage: [UInt8]) -> Bool {
        var utf8 = name.utf8.makeIterator()
        for i in entry.name {
            guard let c = utf8.next(), Self.lower(storage[i]) == Self.lower(c) else { return false }
        }
        return utf8.next() == nil
    }

    @inline(__always) static func lower(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
    }

    /// (name, value) pairs, allocating Strings; for tests, printing and convenience.
    public func makeIterator() -> some IteratorProtocol<(name: String, value: String)> {
        (0..<count).lazy.map { (name: self.name(at: $0), value: self.value(at: $0)) }.makeIterator()
    }

    /// Equal when the same names (exact case) carry the same values in the same order.
    public static func == (a: HTTPFields, b: HTTPFields) -> Bool {
        guard a.count == b.count else { return false }
        for (x, y) in zip(a.entries, b.entries) {
            if a.storage[x.name] != b.storage[y.name] || a.storage[x.value] != b.storage[y.value] { return false }
        }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        for entry in entries {
            hasher.combine(storage[entry.name])
            hasher.combine(storage[entry.value])
        }
    }

    public var description: String { map { "\($0.name): \($0.value)" }.joined(separator: "\n") }
}

/// Why ``HTTPFields/append(name:value:)`` refused a field.
public enum HTTPFieldError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The name is empty or holds a byte that is not a tchar (RFC 9110 §5.1).
    case invalidName(String)
    /// The value holds a control byte (CR, LF, NUL …) at `offset` (RFC 9110 §5.5).
    case invalidValue(name: String, offset: Int, byte: UInt8)
    /// The value starts or ends with SP or HTAB, which a parser would strip (RFC 9110 §5.5).
    case surroundingWhitespace(name: String)

    public var description: String {
        switch self {
        case .invalidName(let name): return "field name \"\(name)\" is not a token (RFC 9110 §5.1)"
        case .invalidValue(let name, let offset, let byte):
            return "value of \(name) has byte 0x\(String(byte, radix: 16)) at offset \(offset), not allowed in field content (RFC 9110 §5.5)"
        case .surroundingWhitespace(let name):
            return "value of \(name) starts or ends with whitespace (RFC 9110 §5.5)"
        }
    }
}

/// How a message's body is delimited (RFC 9112 §6.3), as the parser decided from its head.
public enum HTTPBodyFraming: Hashable, Sendable {
    /// No body at all (e.g. a GET without Content-Length, a 204, a response to HEAD).
    case none
    /// Exactly this many bytes (Content-Length).
    case length(UInt64)
    /// Chunked transfer coding (RFC 9112 §7.1).
    case chunked
    /// Everything until the connection closes (responses only, RFC 9112 §6.3 item 8).
    case untilClose
}

/// `request-line = method SP request-target SP HTTP-version CRLF` plus the header fields.
public struct HTTPRequestHead: Hashable, Sendable, CustomStringConvertible {
    public var method: HTTPMethod
    /// The request-target exactly as received (RFC 9112 §3.2): origin-form `/path?query`,
    /// absolute-form `http://host/path`, authority-form `host:port` (CONNECT) or `*` (OPTIONS).
    public var target: String
    public var version: HTTPVersion
    public var fields: HTTPFields
    /// Whether the connection stays open after this exchange (RFC 9112 §9.3): HTTP/1.1 unless
    /// `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`.
    public var keepAlive: Bool
    /// `Expect: 100-continue` (RFC 9110 §10.1.1): the client waits for a 100 before sending the body.
    public var expectsContinue: Bool
    /// How the body is framed (filled in by the parser; the serializer uses the fields).
    public var framing: HTTPBodyFraming

    public init(
        method: HTTPMethod, target: String, version: HTTPVersion = .http1_1, fields: HTTPFields = HTTPFields()
    ) {
        self.method = method
        self.target = target
        self.version = version
        self.fields = fields
        self.keepAlive = version == .http1_1
        self.expectsContinue = false
        self.framing = .none
    }

    /// Which of the four request-target forms (RFC 9112 §3.2) the target has.
    public var targetForm: RequestTargetForm {
        if target == "*" { return .asterisk }
        if target.hasPrefix("/") { return .origin }
        if method == .connect { return .authority }
        return .absolute
    }

    public var description: String { "\(method) \(target) \(version)" + (fields.isEmpty ? "" : "\n\(fields)") }
}

/// RFC 9112 §3.2's request-target forms.
public enum RequestTargetForm: Hashable, Sendable {
    case origin, absolute, authority, asterisk
}

/// `status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF` plus the header fields.
public struct HTTPResponseHead: Hashable, Sendable, CustomStringConvertible {
    public var version: HTTPVersion
    /// `status-code = 3DIGIT` (RFC 9112 §4).
    public var status: Int
    public var reason: String
    public var fields: HTTPFields
    /// Whether the connection stays open after this response (RFC 9112 §9.3).
    public var keepAlive: Bool
    public var framing: HTTPBodyFraming

    public init(status: Int, reason: String? = nil, version: HTTPVersion = .http1_1, fields: HTTPFields = HTTPFields()) {
        self.version = version
        self.status = status
        self.reason = reason ?? HTTPResponseHead.standardReason(status)
        self.fields = fields
        self.keepAlive = version == .http1_1
        self.framing = .none
    }

    public var description: String { "\(version) \(status) \(reason)" + (fields.isEmpty ? "" : "\n\(fields)") }

    /// The reason phrase RFC 9110 §15 gives a status code ("" when it names none).
    public static func standardReason(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 101: "Switching Protocols"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 206: "Partial Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 303: "See Other"
        case 304: "Not Modified"
        case 307: "Temporary Redirect"
        case 308: "Permanent Redirect"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 402: "Payment Required"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 406: "Not Acceptable"
        case 407: "Proxy Authentication Required"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 410: "Gone"
        case 411: "Length Required"
        case 412: "Precondition Failed"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 417: "Expectation Failed"
        case 422: "Unprocessable Content"
        case 426: "Upgrade Required"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: ""
        }
    }
}

/// What the parser hands out, in order, for each message:
/// a head, zero or more body pieces, optional trailers, then the end of the message.
public enum HTTPEvent: Hashable, Sendable {
    case requestHead(HTTPRequestHead)
    case responseHead(HTTPResponseHead)
    /// Some body bytes (after removing chunked framing). A slice of the parser's buffer: read it
    /// before the next `receive` to avoid a copy.
    case body(ArraySlice<UInt8>)
    /// Trailer fields after a chunked body (RFC 9112 §7.1.2); never merged into the head.
    case trailers(HTTPFields)
    /// The message is complete.
    case endOfMessage
    /// The connection now speaks another protocol (Upgrade accepted with 101, or a CONNECT
    /// tunnel): these bytes followed the last message and belong to it. The parser is done.
    case upgrade(remaining: [UInt8])
}
