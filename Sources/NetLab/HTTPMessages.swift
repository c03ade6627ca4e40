import Foundation
import HTTPParser
import TCPSocket

/// A request as a handler sees it: the parsed head, the whole body, and what routing found.
public struct HTTPRequest: Sendable {
    public var head: HTTPRequestHead
    public var body: [UInt8]
    /// Values of `{name}` segments of the matched route, e.g. `["id": "order-1"]` for
    /// `/v2/{id}/status` and `/v2/order-1/status`.
    public var pathParameters: [String: String]
    /// The peer's address, when the request came over TCP.
    public var remoteAddress: SocketAddress?

    public init(head: HTTPRequestHead, body: [UInt8] = [], pathParameters: [String: String] = [:], remoteAddress: SocketAddress? = nil) {
        self.head = head
        self.body = body
        self.pathParameters = pathParameters
        self.remoteAddress = remoteAddress
    }

    public var method: HTTPMethod { head.method }
    public var target: String { head.target }
    public var fields: HTTPFields { head.fields }

    /// The path of the target, without query: `/v2/charge` for `/v2/charge?x=1` (and for the
    /// absolute-form `http://host/v2/charge?x=1`).
    public var path: String { HTTPRequest.split(head.target).path }

    /// The query of the target, without `?`, or nil.
    public var query: String? { HTTPRequest.split(head.target).query }

    /// Query parameters, percent-decoded; a repeated name keeps its first value.
    public var queryParameters: [String: String] {
        var result: [String: String] = [:]
        for pair in (query ?? "").split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ") }
            guard let name = parts.first?.removingPercentEncoding else { continue }
            if result[name] == nil { result[name] = parts.count > 1 ? parts[1].removingPercentEncoding ?? parts[1] : "" }
        }
        return result
    }

    /// The body as UTF-8 text.
    public var text: String { String(decoding: body, as: UTF8.self) }

    /// Decodes the JSON body; a body that does not decode is the client's error (400).
    public func decodeJSON<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(body))
        } catch {
            throw HTTPError(status: 400, message: "the request body is not the JSON expected: \(error)")
        }
    }

    static func split(_ target: String) -> (path: String, query: String?) {
        var rest = Substring(target)
        // absolute-form (RFC 9112 §3.2.2) never starts with "/": drop its scheme and authority.
        // (A "://" later in an origin-form target, e.g. in its query, is just data.)
        if !rest.hasPrefix("/"), let scheme = rest.range(of: "://") {
            rest = rest[scheme.upperBound...]
            let pathStart = rest.firstIndex { $0 == "/" || $0 == "?" }
            rest = pathStart.map { rest[$0...] } ?? "/"
            if rest.hasPrefix("?") { rest = "/" + rest }
        }
        guard let mark = rest.firstIndex(of: "?") else { return (String(rest), nil) }
        return (String(rest[..<mark]), String(rest[rest.index(after: mark)...]))
    }
}

/// What a handler answers. The server adds Date, Server, Content-Length or chunked framing, and
/// Connection as needed.
public struct HTTPResponse: Sendable {
    public enum Body: Sendable {
        /// The whole body at once (sent with Content-Length).
        case bytes([UInt8])
        /// A body produced piece by piece (sent chunked to HTTP/1.1 clients, close-delimited to
        /// HTTP/1.0 ones). The closure writes pieces and returns when the body is complete.
        case stream(@Sendable (HTTPBodyWriter) async throws -> Void)
    }

    public var status: Int
    public var reason: String?
    public var fields: HTTPFields
    public var body: Body

    public init(status: Int = 200, reason: String? = nil, fields: HTTPFields = HTTPFields(), body: Body = .bytes([])) {
        self.status = status
        self.reason = reason
        self.fields = fields
        self.body = body
    }

    /// A text/plain response.
    public static func text(_ text: String, status: Int = 200) -> HTTPResponse {
        HTTPResponse(
            status: status, fields: HTTPFields(["Content-Type": "text/plain; charset=utf-8"]), body: .bytes(Array(text.utf8)))
    }

    /// An application/json response of `value`, encoded with sorted keys.
    public static func json(_ value: some Encodable, status: Int = 200) throws -> HTTPResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return HTTPResponse(
            status: status, fields: HTTPFields(["Content-Type": "application/json"]),
            body: .bytes(Array(try encoder.encode(value))))
    }

    /// A streamed response.
    public static func stream(
        status: Int = 200, fields: HTTPFields = HTTPFields(), _ produce: @escaping @Sendable (HTTPBodyWriter) async throws -> Void
    ) -> HTTPResponse {
        HTTPResponse(status: status, fields: fields, body: .stream(produce))
    }
}

/// Hands the pieces of a streamed body to the connection.
public struct HTTPBodyWriter: Sendable {
    let send: @Sendable ([UInt8]) async throws -> Void

    /// Sends `bytes` as the next piece of the body (nothing for an empty piece).
    public func write(_ bytes: [UInt8]) async throws {
        guard !bytes.isEmpty else { return }
        try await send(bytes)
    }

    public func write(_ text: String) async throws { try await write(Array(text.utf8)) }
}

/// Thrown by a handler to answer with a specific status (otherwise a thrown error is a 500).
public struct HTTPError: Error, Sendable, CustomStringConvertible {
    public var status: Int
    public var message: String
    public var fields: HTTPFields

    public init(status: Int, message: String? = nil, fields: HTTPFields = HTTPFields()) {
        self.status = status
        self.message = message ?? HTTPResponseHead.standardReason(status)
        self.fields = fields
    }

    public var description: String { "\(status) \(message)" }
}

/// A request handler: request in, response out.
public typealias HTTPHandler = @Sendable (HTTPRequest) async throws -> HTTPResponse
