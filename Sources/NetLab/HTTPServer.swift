import Foundation
import HTTPParser
import Synchronization
import TCPSocket
import TLSWrapper

/// Settings of an ``HTTPServer``. Every wait has a limit; the defaults suit a lab and the
/// payment flow's services.
public struct HTTPServerConfiguration: Sendable {
    /// From the first byte of a request until its head is complete (slowloris guard). 408.
    public var headerTimeout: Duration = .seconds(10)
    /// How long a keep-alive connection may wait for its next request before it is closed.
    public var idleTimeout: Duration = .seconds(60)
    /// From the end of a request's head until its whole body has arrived. 408.
    public var bodyTimeout: Duration = .seconds(60)
    /// The longest wait for the client to take each piece (≤ 256 KiB) of a response.
    public var writeTimeout: Duration = .seconds(30)
    /// Parser limits: request-line (414), head (431), fields (431), body (413).
    public var limits = HTTPLimits()
    /// The most connections served at once. One more is accepted and closed at once (the
    /// backlog keeps draining, and the process keeps descriptors for its own work); it is also
    /// never more than a quarter of the process's open-file limit, which several servers in one
    /// process share (`netlab` raises that limit to the hard one when it serves).
    public var maxConnections = 10_000
    /// The most connections one client address (its IP, whatever the port) may have open at
    /// once; the next is accepted and closed at once, like one over ``maxConnections``. Nil (the
    /// default): half the server's cap, at most 1,024 — one host cannot take every place.
    /// Loopback counts too (lab load tests stay well under it).
    public var maxConnectionsPerAddress: Int?
    /// The `Server` field sent with every response (nil: none).
    public var serverName: String? = "NetLab"
    /// Where one line per request goes (method, target, status, body bytes, duration); nil: off.
    public var accessLog: (@Sendable (String) -> Void)?
    /// Log targets without their query (`/v2/token?…`): a query can carry secrets (card data
    /// in Midtrans' token call), and access logs are read by many.
    public var redactQueryInAccessLog = false
    /// How the server's own error answers look (404, 405, 408, 500, parse errors): text/plain by
    /// default; an API such as the payment gateway answers JSON so its clients can parse them.
    public var errorBody: (@Sendable (HTTPError) -> HTTPResponse)?
    /// An API's one error path: turns whatever a handler throws into that API's answer (the
    /// payment gateway answers Midtrans' JSON). Nil: an ``HTTPError`` answers its status, any
    /// other error 500 (details only in the access log).
    public var handlerErrorResponse: (@Sendable (any Error, HTTPRequest) -> HTTPResponse)?
    /// Run handlers on ``blockingExecutor`` (Swift's global executor when none is given)
    /// instead of the connection's event loop. Set it when handlers do blocking work (SQLite,
    /// files): on the loop, one slow `fsync` would stall every connection the loop serves. Costs
    /// a thread hop per request.
    public var handlersMayBlock = false
    /// Where handlers that may block run: threads of their own (an `EventLoopGroup` is a
    /// `TaskExecutor`), so a handler waiting on a disk holds none of the cooperative pool's few
    /// threads, where clients and other servers' tasks run.
    public var blockingExecutor: (any TaskExecutor)?
    /// The request parser of each connection; nil: NetLab's ``HTTPMessageParser``. The HTTP
    /// layer's seam: a student's parser conforming to ``HTTPMessageParsing`` plugs in here.
    public var parser: HTTPParserFactory?

    public init() {}
}

/// An HTTP/1.1 server on NetLab's own layers: HTTPParser over any ``ByteStream``
/// (TCP today, TLS with the next layer), on the readiness loop.
///
/// ```swift
/// var router = Router()
/// router.get("/hello") { _ in .text("Hello, World!") }
/// let server = HTTPServer(router: router)
/// let address = try await server.start(host: "127.0.0.1", port: 0)
/// …
/// await server.shutdown()
/// ```
///
/// Each connection is one task pinned to its event loop (see EventLoop.swift): it reads what is
/// there, parses every pipelined request in the buffer, answers them in order and writes all the
/// answers with one write. Keep-alive, HTTP/1.0, `Connection: close`, `Expect: 100-continue`
/// and chunked streaming responses are handled here; malformed requests get the parser's status
/// (400, 413, 414, 431, 501, 505) and the connection is closed.
public final class HTTPServer: Sendable {
    public let configuration: HTTPServerConfiguration
    let router: Router

    private struct State {
        var listener: AsyncTCPListener?
        /// Connections being served now, handshakes included (the cap's count).
        var admitted = 0
        /// The same count per client IP (the per-address cap's count).
        var admittedFrom: [String: Int] = [:]
        var acceptTask: Task<Void, Never>?
        var draining = false
        var nextConnectionID = 0
        var connections: [Int: OpenConnection] = [:]
    }

    /// What the server knows of a connection, for graceful shutdown: busy (a request is in
    /// flight), idle (waiting for a new request with nothing buffered) or closing. The
    /// connection and `shutdown` change it only by compare-and-swap, so a request that arrives
    /// just as shutdown closes an idle connection is either served completely or not at all.
    final class OpenConnection: Sendable {
        private static let busy: UInt8 = 0, idle: UInt8 = 1, closing: UInt8 = 2
        let stream: any ByteStream
        private let state = Atomic<UInt8>(OpenConnection.busy)

        init(stream: any ByteStream) { self.stream = stream }

        /// busy → idle, before waiting for the next request; false if shutdown claimed it.
        func becomeIdle() -> Bool {
            state.compareExchange(expected: Self.busy, desired: Self.idle, ordering: .acquiringAndReleasing).exchanged
        }

        /// idle → busy, when bytes of a new request arrived; false if shutdown claimed it first.
        func becomeBusy() -> Bool {
            state.compareExchange(expected: Self.idle, desired: Self.busy, ordering: .acquiringAndReleasing).exchanged
        }

        /// idle → closing (graceful), or anything → closing (forced). True when the caller
        /// should close the stream.
        func claimForClosing(force: Bool) -> Bool {
            if force { return state.exchange(Self.closing, ordering: .acquiringAndReleasing) != Self.closing }
            return state.compareExchange(expected: Self.idle, desired: Self.closing, ordering: .acquiringAndReleasing).exchanged
        }
    }

    private let state = Locked(State())

    public init(configuration: HTTPServerConfiguration = HTTPServerConfiguration(), router: Router) {
        self.configuration = configuration
        self.router = router
    }

    /// Binds, listens and starts accepting; returns the address bound (port 0 picks one).
    /// With `tls`, every connection first completes a TLS handshake (within `headerTimeout`):
    /// HTTPS, the same server code over a ``TLSStream``.
    public func start(
        host: String? = "127.0.0.1", port: UInt16, tls: TLSContext? = nil, group: EventLoopGroup = .shared,
        in namespace: NetworkNamespace? = nil
    ) async throws -> SocketAddress {
        if state.withLock({ $0.listener != nil || $0.draining }) {
            throw HTTPError(status: 500, message: "this server was already started (or shut down); make a new one")
        }
        let listener = try AsyncTCPListener(host: host, port: port, backlog: 1024, group: group, in: namespace)
        // The accept loop runs on the listener's own event loop, like the connections: the
        // server never needs a thread of the global pool to make progress.
        let task = Task(executorPreference: listener.loop) {
            do {
                let cap = max(8, min(self.configuration.maxConnections, OpenFileLimit.current / 4))
                try await listener.serve { [self] connection in
                    // Over the cap: closed before a byte is read (the listener closes it as this returns).
                    let client = connection.remoteAddress.host
                    let perAddress = self.configuration.maxConnectionsPerAddress ?? max(1, min(1_024, cap / 2))
                    let refusal = state.withLock { state -> String? in
                        guard state.admitted < cap else { return "\(cap) connections are open" }
                        guard state.admittedFrom[client, default: 0] < perAddress else {
                            return "\(perAddress) connections are open from \(client)"
                        }
                        state.admitted += 1
                        state.admittedFrom[client, default: 0] += 1
                        return nil
                    }
                    if let refusal {
                        configuration.accessLog?("\(connection.remoteAddress) refused: \(refusal)")
                        return
                    }
                    defer {
                        state.withLock { state in
                            state.admitted -= 1
                            state.admittedFrom[client, default: 1] -= 1
                            if state.admittedFrom[client] == 0 { state.admittedFrom[client] = nil }
                        }
                    }
                    try? connection.setNoDelay()
                    guard let tls else {
                        await serve(connection, remoteAddress: connection.remoteAddress)
                        return
                    }
                    do {
                        let secure = try await TLSStream.accept(
                            over: connection, context: tls, deadline: .after(configuration.headerTimeout))
                        await serve(secure, remoteAddress: connection.remoteAddress)
                    } catch {
                        configuration.accessLog?("\(connection.remoteAddress) TLS handshake failed: \(error)")
                        await connection.close()
                    }
                }
            } catch {
                self.configuration.accessLog?("server: accept loop ended: \(error)")
            }
        }
        state.withLock {
            $0.listener = listener
            $0.acceptTask = task
        }
        return listener.localAddress
    }

    /// The address `start` bound, while running.
    public var localAddress: SocketAddress? { state.withLock { $0.listener?.localAddress } }

    /// Serves one connection until it closes: the whole HTTP/1.1 conversation over `stream`.
    /// `start` calls this for each TCP connection; tests call it on a socketpair, and the TLS
    /// layer on a ``ByteStream`` that decrypts.
    public func serve(_ stream: some ByteStream, remoteAddress: SocketAddress? = nil) async {
        let open = OpenConnection(stream: stream)
        let id: Int? = state.withLock { state in
            guard !state.draining else { return nil }
            state.nextConnectionID += 1
            state.connections[state.nextConnectionID] = open
            return state.nextConnectionID
        }
        guard let id else {
            await stream.close()
            return
        }
        if let makeParser = configuration.parser {
            // A parser plugged in at the seam (a student's): the same connection code, boxed.
            let parser = AnyHTTPMessageParser(makeParser(.requests, configuration.limits))
            var connection = HTTPServerConnection(server: self, stream: stream, remoteAddress: remoteAddress, open: open, parser: parser)
            await connection.run()
        } else {
            let parser = HTTPMessageParser(parsing: .requests, limits: configuration.limits)
            var connection = HTTPServerConnection(server: self, stream: stream, remoteAddress: remoteAddress, open: open, parser: parser)
            await connection.run()
        }
        await stream.close()
        _ = state.withLock { $0.connections.removeValue(forKey: id) }
    }

    /// True once ``shutdown(gracePeriod:)`` has begun: connections finish their request and close.
    var isDraining: Bool { state.withLock { $0.draining } }

    /// Graceful shutdown: stop accepting, close idle keep-alive connections, let requests in
    /// flight finish (their responses say `Connection: close`) for up to `gracePeriod`, then
    /// close whatever is left, cancel its handlers and wait up to one more second for those
    /// connections to end (a handler that ignores cancellation may run on after that; its
    /// connection is closed).
    public func shutdown(gracePeriod: Duration = .seconds(5)) async {
        let (listener, acceptTask) = state.withLock { state -> (AsyncTCPListener?, Task<Void, Never>?) in
            state.draining = true
            defer {
                state.listener = nil
                state.acceptTask = nil
            }
            return (state.listener, state.acceptTask)
        }
        await listener?.close()
        let deadline = ContinuousClock.now + gracePeriod
        // Once the grace period is over (or the caller is cancelled), what is left is closed and
        // its handlers are cancelled; one more second lets those connections' tasks end, so that
        // little of this server still runs when the caller goes on (a process about to exit).
        let settled = deadline + .seconds(1)
        var forcedAlready = false
        while true {
            let open = state.withLock { Array($0.connections.values) }
            let now = ContinuousClock.now
            if open.isEmpty || now >= settled { break }
            let forced = now >= deadline || Task.isCancelled
            for connection in open where connection.claimForClosing(force: forced) {
                await connection.stream.close()
            }
            if forced && !forcedAlready {
                forcedAlready = true
                acceptTask?.cancel()  // the connections' tasks are children of the accept loop's
            }
            // A cancelled caller cannot sleep (it would spin): its connections are closed; done.
            if Task.isCancelled { break }
            try? await Task.sleep(for: .milliseconds(10))
        }
        // A handler that ignores cancellation must not hold shutdown beyond this point.
        acceptTask?.cancel()
    }

    /// The request-target as the access log shows it (see ``HTTPServerConfiguration/redactQueryInAccessLog``).
    func loggedTarget(_ target: String) -> String {
        guard configuration.redactQueryInAccessLog, let question = target.firstIndex(of: "?") else { return target }
        return target[..<question] + "?…"
    }

    /// Routes and runs the handler; every failure becomes a response.
    func respond(to request: HTTPRequest) async -> HTTPResponse {
        var request = request
        switch router.match(method: request.method, path: request.path) {
        case .notFound:
            return errorResponse(HTTPError(status: 404))
        case .methodNotAllowed(let allowed):
            var fields = HTTPFields()
            try? fields.append(name: "Allow", value: allowed.map(\.rawValue).joined(separator: ", "))
            return errorResponse(HTTPError(status: 405, fields: fields))
        case .handler(let handler, let parameters):
            request.pathParameters = parameters
            do {
                if configuration.handlersMayBlock {
                    // Off the loop: a handler waiting on a disk or a database lock then holds
                    // one of the global pool's threads, not every connection of this loop.
                    return try await withTaskExecutorPreference(configuration.blockingExecutor ?? globalConcurrentExecutor) {
                        try await handler(request)
                    }
                }
                return try await handler(request)
            } catch {
                if let map = configuration.handlerErrorResponse {
                    var response = map(error, request)
                    // Fields an HTTPError carries (Allow with a 405) belong to the answer whatever its body.
                    if let error = error as? HTTPError {
                        for (name, value) in error.fields where !response.fields.contains(name) { try? response.fields.append(name: name, value: value) }
                    }
                    if response.status >= 500 {
                        configuration.accessLog?("handler error for \(request.method) \(loggedTarget(request.target)): \(error)")
                    }
                    return response
                }
                if let error = error as? HTTPError { return errorResponse(error) }
                // The handler's failure is the server's (500); its details stay in the log.
                configuration.accessLog?("handler error for \(request.method) \(loggedTarget(request.target)): \(error)")
                return errorResponse(HTTPError(status: 500))
            }
        }
    }

    /// The server's error answer: the configured `errorBody`, or text/plain.
    func errorResponse(_ error: HTTPError) -> HTTPResponse {
        var response = configuration.errorBody?(error) ?? Self.errorResponse(error)
        for (name, value) in error.fields where !response.fields.contains(name) {
            try? response.fields.append(name: name, value: value)
        }
        return response
    }

    static func errorResponse(_ error: HTTPError) -> HTTPResponse {
        var response = HTTPResponse.text(error.message + "\n", status: error.status)
        for (name, value) in error.fields { try? response.fields.append(name: name, value: value) }
        return response
    }
}
