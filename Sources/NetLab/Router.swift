import Foundation
import HTTPParser

/// Routes requests by method and path. A pattern is a path whose segments may be `{name}`
/// parameters: `/v2/{id}/status` matches `/v2/order-1/status` with `id = "order-1"`.
/// Literal segments win over parameters; the first route added wins among equals.
///
/// No route for the path answers 404; a route for the path but not the method answers 405
/// with an `Allow` field (RFC 9110 §15.5.6).
public struct Router: Sendable {
    struct Route: Sendable {
        let method: HTTPMethod
        let segments: [Segment]
        let handler: HTTPHandler
    }

    enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
    }

    private var routes: [Route] = []
    /// Answers requests no route's path matches (instead of 404), e.g. a static-file handler.
    public var fallback: HTTPHandler?

    public init() {}

    /// Adds a route. - Precondition: `pattern` starts with "/".
    public mutating func add(_ method: HTTPMethod, _ pattern: String, _ handler: @escaping HTTPHandler) {
        precondition(pattern.hasPrefix("/"), "route patterns start with /: \(pattern)")
        let segments = Self.segments(of: pattern).map { part -> Segment in
            if part.hasPrefix("{") && part.hasSuffix("}") { return .parameter(String(part.dropFirst().dropLast())) }
            return .literal(String(part))
        }
        routes.append(Route(method: method, segments: segments, handler: handler))
    }

    public mutating func get(_ pattern: String, _ handler: @escaping HTTPHandler) { add(.get, pattern, handler) }
    public mutating func post(_ pattern: String, _ handler: @escaping HTTPHandler) { add(.post, pattern, handler) }
    public mutating func put(_ pattern: String, _ handler: @escaping HTTPHandler) { add(.put, pattern, handler) }
    public mutating func delete(_ pattern: String, _ handler: @escaping HTTPHandler) { add(.delete, pattern, handler) }
    public mutating func patch(_ pattern: String, _ handler: @escaping HTTPHandler) { add(.patch, pattern, handler) }

    /// What routing decided for a request.
    public enum Match: Sendable {
        case handler(HTTPHandler, parameters: [String: String])
        case notFound
        case methodNotAllowed(allowed: [HTTPMethod])
    }

    /// Routes and runs `request` as a server would, for routers that delegate to another (a
    /// 404 or 405 is thrown as an ``HTTPError`` for the server to answer).
    public func handle(_ request: HTTPRequest) async throws -> HTTPResponse {
        switch match(method: request.method, path: request.path) {
        case .handler(let handler, let parameters):
            var request = request
            request.pathParameters = parameters
            return try await handler(request)
        case .notFound:
            throw HTTPError(status: 404)
        case .methodNotAllowed(let allowed):
            var fields = HTTPFields()
            try? fields.append(name: "Allow", value: allowed.map(\.rawValue).joined(separator: ", "))
            throw HTTPError(status: 405, fields: fields)
        }
    }

    public func match(method: HTTPMethod, path: String) -> Match {
        let parts = Self.segments(of: path)
        var best: (route: Route, parameters: [String: String], literals: Int)?
        var allowed: [HTTPMethod] = []
        for route in routes {
            guard let (parameters, literals) = Self.bind(route.segments, to: parts) else { continue }
            // HEAD is answered by the GET route (RFC 9110 §9.3.2), the server drops the body.
            let methodMatches = route.method == method || (method == .head && route.method == .get)
            if !methodMatches {
                if !allowed.contains(route.method) { allowed.append(route.method) }
                continue
            }
            if best == nil || literals > best!.literals { best = (route, parameters, literals) }
        }
        if let best { return .handler(best.route.handler, parameters: best.parameters) }
        if allowed.isEmpty, let fallback { return .handler(fallback, parameters: [:]) }
        return allowed.isEmpty ? .notFound : .methodNotAllowed(allowed: allowed)
    }

    private static func bind(_ pattern: [Segment], to parts: [Substring]) -> ([String: String], Int)? {
        guard pattern.count == parts.count else { return nil }
        var parameters: [String: String] = [:]
        var literals = 0
        for (segment, part) in zip(pattern, parts) {
            switch segment {
            case .literal(let text):
                guard text == part else { return nil }
                literals += 1
            case .parameter(let name):
                // Decoded, a parameter may not smuggle in a path separator or NUL
                // ("..%2F..%2Fetc" must not reach a handler as "../../etc").
                let value = String(part).removingPercentEncodingOrSelf
                guard !value.isEmpty, !value.contains("/"), !value.contains("\0") else { return nil }
                parameters[name] = value
            }
        }
        return (parameters, literals)
    }

    /// The pieces between the slashes of `path`, without the piece before the first slash
    /// (`/v2/abc/status` → `v2`, `abc`, `status`; a trailing slash leaves an empty last piece).
    /// Over the UTF-8 bytes, into one array: this runs for every request.
    static func segments(of path: String) -> [Substring] {
        var parts: [Substring] = []
        parts.reserveCapacity(8)
        let utf8 = path.utf8
        var start = utf8.startIndex
        var seenSlash = false
        var index = start
        while index < utf8.endIndex {
            if utf8[index] == UInt8(ascii: "/") {
                if seenSlash { parts.append(path[start..<index]) }
                seenSlash = true
                start = utf8.index(after: index)
            }
            index = utf8.index(after: index)
        }
        if seenSlash { parts.append(path[start..<utf8.endIndex]) }
        return parts
    }
}

extension String {
    var removingPercentEncodingOrSelf: String { removingPercentEncoding ?? self }
}
