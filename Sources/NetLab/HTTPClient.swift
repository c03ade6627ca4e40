import Foundation
import HTTPParser
import TCPSocket
import TLSWrapper

/// What can go wrong in the HTTP client, besides the ``SocketError``s of the connection itself.
public enum HTTPClientError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The URL cannot be used, and why.
    case invalidURL(String, reason: String)
    /// The request cannot be written as valid HTTP/1.1 (the serializer said why).
    case invalidRequest(String)
    /// The server's bytes are not valid HTTP/1.1.
    case invalidResponse(HTTPParseError)
    /// The server closed the connection before a complete response.
    case connectionClosedBeforeResponse
    /// The whole exchange did not finish within the request timeout.
    case timedOut(url: String, limit: Duration)
    /// The host resolved only to addresses ``HTTPClientConfiguration/permitsAddress`` refuses.
    case addressNotPermitted(host: String)

    public var description: String {
        switch self {
        case .invalidURL(let url, let reason): "invalid URL \(url): \(reason)"
        case .invalidRequest(let why): "cannot send the request: \(why)"
        case .invalidResponse(let error): "invalid response: \(error)"
        case .connectionClosedBeforeResponse: "the server closed the connection before a complete response"
        case .timedOut(let url, let limit): "\(url) did not answer within \(limit)"
        case .addressNotPermitted(let host): "\(host) resolves to no address this client may connect to"
        }
    }
}

/// A request to send.
public struct HTTPClientRequest: Sendable {
    public var method: HTTPMethod
    public var url: HTTPURL
    public var fields: HTTPFields
    public var body: [UInt8]
    /// Send the body with chunked framing instead of Content-Length.
    public var chunked: Bool

    public init(method: HTTPMethod = .get, url: HTTPURL, fields: HTTPFields = HTTPFields(), body: [UInt8] = [], chunked: Bool = false) {
        self.method = method
        self.url = url
        self.fields = fields
        self.body = body
        self.chunked = chunked
    }

    /// Adds `Authorization: Basic base64(user:password)` (RFC 7617), as Midtrans' API expects
    /// with the server key as user and an empty password.
    public mutating func basicAuthorization(user: String, password: String = "") {
        let token = Data("\(user):\(password)".utf8).base64EncodedString()
        fields.removeAll(named: "Authorization")
        try? fields.append(name: "Authorization", value: "Basic \(token)")
    }

    /// Sets a JSON body (with Content-Type) encoded from `value`.
    public mutating func setJSONBody(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        body = Array(try encoder.encode(value))
        fields.removeAll(named: "Content-Type")
        try? fields.append(name: "Content-Type", value: "application/json")
    }
}

/// A complete response.
public struct HTTPClientResponse: Sendable {
    public var head: HTTPResponseHead
    public var body: [UInt8]
    public var trailers: HTTPFields

    public var status: Int { head.status }
    public var fields: HTTPFields { head.fields }
    public var text: String { String(decoding: body, as: UTF8.self) }

    public func decodeJSON<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(body))
    }
}

/// What the client did, step by step, for `netlab get -v` and for tests that look inside.
public enum HTTPClientTraceEvent: Sendable {
    case resolved(host: String, addresses: [SocketAddress])
    case connected(local: SocketAddress, remote: SocketAddress, after: Duration)
    case reusedConnection(remote: String)
    /// The request head as sent, with credentials (Authorization, Proxy-Authorization,
    /// Cookie) replaced by "[redacted]", and the body's length.
    case sent(head: String, bodyLength: Int)
    case receivedHead(HTTPResponseHead)
    case retrying(reason: String)
    /// The TLS handshake finished: version, cipher suite, ALPN, the server's certificate.
    case tlsEstablished(TLSConnectionFacts)
}

/// Settings of an ``HTTPClient``.
public struct HTTPClientConfiguration: Sendable {
    /// Limit for the TCP handshake (per address tried).
    public var connectTimeout: Duration = .seconds(10)
    /// Limit for a whole exchange: connect, send, and the complete response.
    public var requestTimeout: Duration = .seconds(30)
    /// Idle keep-alive connections kept per host:port.
    public var maxIdleConnectionsPerHost = 8
    /// An idle connection older than this is closed rather than reused (servers close idle
    /// connections too; NetLab's server after 60 s).
    public var idleConnectionLifetime: Duration = .seconds(30)
    /// Response parsing limits (the body limit is the largest response accepted).
    public var limits: HTTPLimits = {
        var limits = HTTPLimits()
        limits.maxBodySize = 64 << 20
        return limits
    }()
    /// The User-Agent field sent (nil: none).
    public var userAgent: String? = "NetLab"
    /// TLS for https:// URLs: whose certificates to trust and how. nil: the system's trust
    /// store with full verification (certificate chain and host name).
    public var tls: TLSContext?
    /// The response parser of each exchange; nil: NetLab's ``HTTPMessageParser`` (the seam a
    /// student's parser plugs into, as on the server).
    public var parser: HTTPParserFactory?
    /// The addresses the client may connect to (nil: any). Applied to what the name resolves
    /// to, as the client connects: a check of the name made earlier cannot be undone by the
    /// name resolving elsewhere by then (DNS rebinding). No permitted address:
    /// ``HTTPClientError/addressNotPermitted(host:)``.
    public var permitsAddress: (@Sendable (SocketAddress) -> Bool)?
    /// The network namespace connections leave from (``NetworkNamespace``: a host of the lab
    /// network); nil, this process's own.
    public var namespace: NetworkNamespace?

    public init() {}
}

/// An HTTP/1.1 client on NetLab's own layers, with a small keep-alive pool per host.
///
/// ```swift
/// let client = HTTPClient()
/// let response = try await client.get("http://127.0.0.1:8080/hello")
/// print(response.status, response.text)
/// await client.shutdown()
/// ```
///
/// Every wait has a deadline (``HTTPClientConfiguration/requestTimeout``): a stalled server gives
/// ``HTTPClientError/timedOut(url:limit:)``, never a hang. A pooled connection that the server
/// closed meanwhile is detected on use; idempotent requests are then retried once on a new one.
public final class HTTPClient: Sendable {
    /// Opens the byte stream to a URL's host (TCP by default; the TLS layer passes its own). A
    /// connector that reaches the network should do so through the client it is handed
    /// (`client.connectTCP`): that is where ``HTTPClientConfiguration/permitsAddress`` holds.
    public typealias Connector = @Sendable (HTTPURL, Deadline, HTTPClient) async throws -> any ByteStream

    public let configuration: HTTPClientConfiguration
    private let connector: Connector?
    private let trace: (@Sendable (HTTPClientTraceEvent) -> Void)?
    private let group: EventLoopGroup

    private struct PooledConnection {
        let stream: any ByteStream
        /// The loop its exchanges run on: its socket's (or, for a stream on no loop of its own,
        /// the one its first exchange ran on).
        let loop: EventLoop
        let since: ContinuousClock.Instant
    }

    private let pool = Locked<[String: [PooledConnection]]>([:])

    public init(
        configuration: HTTPClientConfiguration = HTTPClientConfiguration(), group: EventLoopGroup = .shared,
        connector: Connector? = nil, trace: (@Sendable (HTTPClientTraceEvent) -> Void)? = nil
    ) {
        self.configuration = configuration
        self.group = group
        self.connector = connector
        self.trace = trace
    }

    /// A client like this one (the same connector, trace and threads; a pool of its own) with
    /// its configuration changed by `change`. Shut it down on its own.
    public func with(_ change: (inout HTTPClientConfiguration) -> Void) -> HTTPClient {
        var changed = configuration
        change(&changed)
        return HTTPClient(configuration: changed, group: group, connector: connector, trace: trace)
    }

    // MARK: Conveniences

    public func get(_ url: String, fields: HTTPFields = HTTPFields()) async throws -> HTTPClientResponse {
        try await execute(HTTPClientRequest(method: .get, url: try HTTPURL(url), fields: fields))
    }

    public func post(_ url: String, body: [UInt8], fields: HTTPFields = HTTPFields()) async throws -> HTTPClientResponse {
        try await execute(HTTPClientRequest(method: .post, url: try HTTPURL(url), fields: fields, body: body))
    }

    /// POSTs `value` as JSON and decodes the JSON answer.
    public func postJSON<Response: Decodable>(
        _ url: String, _ value: some Encodable, as: Response.Type = Response.self
    ) async throws -> (HTTPClientResponse, Response) {
        var request = HTTPClientRequest(method: .post, url: try HTTPURL(url))
        try request.setJSONBody(value)
        let response = try await execute(request)
        return (response, try response.decodeJSON(Response.self))
    }

    // MARK: Exchanges

    /// Sends `request` and returns the complete response.
    ///
    /// The exchange runs on an event loop — the pooled connection's, or the one a new connection
    /// is made on — as a server's connection does (EventLoop.swift, rule 3): each read resumes
    /// in the loop's own round, and a TLS handshake under way never waits for a thread of the
    /// cooperative pool, which the caller's other work may be holding while the server's
    /// handshake deadline runs out.
    public func execute(_ request: HTTPClientRequest) async throws -> HTTPClientResponse {
        let deadline = Deadline.after(configuration.requestTimeout)
        let bytes = try serialize(request)
        let key = "\(request.url.scheme.rawValue)://\(request.url.hostField)"
        let pooled = checkOut(key)
        let loop = pooled?.loop ?? group.next()
        return try await withTaskExecutorPreference(loop) {
            try await self.execute(request, bytes: bytes, key: key, pooled: pooled, loop: loop, deadline: deadline)
        }
    }

    private func execute(
        _ request: HTTPClientRequest, bytes: [UInt8], key: String, pooled: PooledConnection?, loop: EventLoop, deadline: Deadline
    ) async throws -> HTTPClientResponse {
        if let pooled {
            trace?(.reusedConnection(remote: key))
            do {
                let (response, reusable) = try await exchange(on: pooled.stream, bytes: bytes, request: request, deadline: deadline)
                checkIn(pooled.stream, loop: loop, key: key, reusable: reusable)
                return response
            } catch let error where Self.isStaleConnection(error) && Self.isIdempotent(request.method) {
                await pooled.stream.close()
                trace?(.retrying(reason: "the pooled connection was closed by the server: \(error)"))
            } catch {
                await pooled.stream.close()
                throw error
            }
        }
        let stream = try await connect(request.url, deadline: deadline, on: loop)
        // A connector may have made the connection on another loop: the exchange runs on the
        // socket's own, and so do the pooled connection's later ones.
        let home = (stream.preferredExecutor as? EventLoop) ?? loop
        do {
            let (response, reusable) = try await withTaskExecutorPreference(home) {
                try await exchange(on: stream, bytes: bytes, request: request, deadline: deadline)
            }
            checkIn(stream, loop: home, key: key, reusable: reusable)
            return response
        } catch {
            await stream.close()
            throw error
        }
    }

    /// Closes every pooled connection.
    public func shutdown() async {
        let all = pool.withLock { pool -> [PooledConnection] in
            defer { pool.removeAll() }
            return pool.values.flatMap { $0 }
        }
        for connection in all { await connection.stream.close() }
    }

    /// The number of idle pooled connections (for tests and `netlab get -v`).
    public var idleConnectionCount: Int { pool.withLock { $0.values.reduce(0) { $0 + $1.count } } }

    private func serialize(_ request: HTTPClientRequest) throws -> [UInt8] {
        var head = HTTPRequestHead(method: request.method, target: request.url.target, fields: request.fields)
        if !head.fields.contains("Host") { try? head.fields.append(name: "Host", value: request.url.hostField) }
        if let userAgent = configuration.userAgent, !head.fields.contains("User-Agent") {
            try? head.fields.append(name: "User-Agent", value: userAgent)
        }
        if request.chunked && !head.fields.contains("Transfer-Encoding") {
            try? head.fields.append(name: "Transfer-Encoding", value: "chunked")
        }
        do {
            return try HTTPSerializer.request(head, body: request.body)
        } catch {
            throw HTTPClientError.invalidRequest(error.description)
        }
    }

    /// The default connector: resolve, then TCP to each address in turn, on `loop` (nil: the
    /// next of the client's group).
    public func connectTCP(_ url: HTTPURL, deadline: Deadline, on loop: EventLoop? = nil) async throws -> any ByteStream {
        let host = url.host
        let port = url.port
        var addresses = try await SocketAddress.resolveAsync(host: host, port: port)
        trace?(.resolved(host: url.host, addresses: addresses))
        if let permits = configuration.permitsAddress {
            addresses = addresses.filter(permits)
            if addresses.isEmpty { throw HTTPClientError.addressNotPermitted(host: url.host) }
        }
        var lastError: any Error = SocketError.hostNotFound(host: url.host, code: 0, message: "no address")
        for address in addresses {
            let start = ContinuousClock.now
            do {
                let left = deadline.instant.map { min($0 - .now, configuration.connectTimeout) } ?? configuration.connectTimeout
                let connection = try await AsyncTCPConnection.connect(
                    to: address, timeout: left, on: loop ?? group.next(), in: configuration.namespace)
                try? connection.setNoDelay()
                trace?(.connected(local: connection.localAddress, remote: address, after: .now - start))
                return connection
            } catch {
                lastError = error
            }
        }
        throw lastError
    }

    private func connect(_ url: HTTPURL, deadline: Deadline, on loop: EventLoop) async throws -> any ByteStream {
        if let connector { return try await connector(url, deadline, self) }
        let tcp = try await connectTCP(url, deadline: deadline, on: loop)
        guard url.scheme == .https else { return tcp }
        do {
            let context = try configuration.tls ?? TLSContext(.client())
            let secure = try await TLSStream.connect(over: tcp, context: context, serverName: url.host, deadline: deadline)
            trace?(.tlsEstablished(secure.facts))
            return secure
        } catch {
            await tcp.close()
            throw error
        }
    }

    /// Writes the request and reads one complete response. Returns whether the connection may
    /// carry another exchange.
    private func exchange(on stream: any ByteStream, bytes: [UInt8], request: HTTPClientRequest, deadline: Deadline)
        async throws -> (HTTPClientResponse, Bool)
    {
        do {
            try await stream.write(bytes, deadline: deadline)
            if let trace { trace(.sent(head: Self.redactedHead(request, bytes), bodyLength: request.body.count)) }
            if let makeParser = configuration.parser {
                var parser = AnyHTTPMessageParser(makeParser(.responses, configuration.limits))
                return try await readResponse(from: stream, parser: &parser, request: request, deadline: deadline)
            }
            var parser = HTTPMessageParser(parsing: .responses, limits: configuration.limits)
            return try await readResponse(from: stream, parser: &parser, request: request, deadline: deadline)
        } catch SocketError.timedOut {
            throw HTTPClientError.timedOut(url: request.url.description, limit: deadline.limit)
        }
    }

    /// Reads one complete response with `parser` (1xx interim answers skipped).
    private func readResponse<Parser: HTTPMessageParsing>(
        from stream: any ByteStream, parser: inout Parser, request: HTTPClientRequest, deadline: Deadline
    ) async throws -> (HTTPClientResponse, Bool) {
        do {
            parser.expectResponse(to: request.method)
            var input: [UInt8] = []
            var head: HTTPResponseHead?
            var body: [UInt8] = []
            var trailers = HTTPFields()
            var receivedAny = false
            while true {
                while let event = try parser.nextEvent() {
                    switch event {
                    case .responseHead(let h):
                        trace?(.receivedHead(h))
                        head = h
                    case .body(let piece):
                        body.append(contentsOf: piece)
                    case .trailers(let fields):
                        trailers = fields
                    case .endOfMessage:
                        guard let final = head else { continue }
                        // 1xx responses are interim: the final one follows (RFC 9110 §15.2).
                        if (100..<200).contains(final.status) && final.status != 101 {
                            head = nil
                            continue
                        }
                        // After a 101 or a 2xx to CONNECT the connection speaks another protocol
                        // (or reaches another host): never hand it to the next request.
                        let switched = final.status == 101 || (request.method == .connect && (200..<300).contains(final.status))
                        let reusable = final.keepAlive && parser.bufferedByteCount == 0 && !switched
                        return (HTTPClientResponse(head: final, body: body, trailers: trailers), reusable)
                    case .requestHead, .upgrade:
                        throw HTTPClientError.connectionClosedBeforeResponse
                    }
                }
                input.removeAll(keepingCapacity: true)
                switch try await stream.read(into: &input, maxBytes: 64 * 1024, deadline: deadline) {
                case .bytes:
                    receivedAny = true
                    parser.receive(input[...])
                case .endOfStream:
                    if !receivedAny { throw HTTPClientError.connectionClosedBeforeResponse }
                    parser.receiveEndOfStream()
                }
            }
        } catch let error as HTTPParseError {
            if case .incompleteMessage = error { throw HTTPClientError.connectionClosedBeforeResponse }
            throw HTTPClientError.invalidResponse(error)
        } catch SocketError.timedOut {
            throw HTTPClientError.timedOut(url: request.url.description, limit: deadline.limit)
        }
    }

    // MARK: Pool

    private func checkOut(_ key: String) -> PooledConnection? {
        let now = ContinuousClock.now
        var expired: [PooledConnection] = []
        let found = pool.withLock { pool -> PooledConnection? in
            while var list = pool[key], let last = list.popLast() {
                pool[key] = list.isEmpty ? nil : list
                if now - last.since < configuration.idleConnectionLifetime { return last }
                expired.append(last)
            }
            return nil
        }
        if !expired.isEmpty {
            Task { for connection in expired { await connection.stream.close() } }
        }
        return found
    }

    private func checkIn(_ stream: any ByteStream, loop: EventLoop, key: String, reusable: Bool) {
        let kept = reusable && pool.withLock { pool -> Bool in
            var list = pool[key] ?? []
            guard list.count < configuration.maxIdleConnectionsPerHost else { return false }
            list.append(PooledConnection(stream: stream, loop: loop, since: .now))
            pool[key] = list
            return true
        }
        if !kept { Task { await stream.close() } }
    }

    /// The head part of `bytes` as text, with credential fields redacted: traces end up in
    /// logs and terminals, and a Midtrans server key must not.
    static func redactedHead(_ request: HTTPClientRequest, _ bytes: [UInt8]) -> String {
        let text = String(decoding: bytes, as: UTF8.self)
        let head = text.components(separatedBy: "\r\n\r\n").first ?? text
        return head.split(separator: "\r\n", omittingEmptySubsequences: false).map { line -> String in
            guard let colon = line.firstIndex(of: ":") else { return String(line) }
            let name = line[..<colon].lowercased()
            return ["authorization", "proxy-authorization", "cookie"].contains(name) ? "\(line[..<colon]): [redacted]" : String(line)
        }.joined(separator: "\r\n")
    }

    /// A reused connection that the server had closed fails like this before any response byte.
    private static func isStaleConnection(_ error: any Error) -> Bool {
        if case HTTPClientError.connectionClosedBeforeResponse = error { return true }
        switch error as? SocketError {
        case .connectionReset?, .brokenPipe?: return true
        default: return false
        }
    }

    /// RFC 9110 §9.2.2: safe to send twice.
    private static func isIdempotent(_ method: HTTPMethod) -> Bool {
        [.get, .head, .put, .delete, .options, .trace].contains(method)
    }
}
