// Lab 3 — HTTP server. Write the loop that serves one HTTP/1.1 connection; see README.md
// (English) or README.id.md (Bahasa Indonesia). Run `swift run lab check 3`.
import HTTPParser
import NetLab
import NetLabConformance
import TCPSocket

public struct StudentServer: HTTPConnectionServing {
    public init() {}

    /// Serve `connection` until it should close, then return (the caller closes it).
    ///
    /// Step 1: read bytes (`connection.read(into:maxBytes:deadline:)`), feed an
    ///         `HTTPMessageParser(parsing: .requests)`, and collect each request's head and body.
    /// Step 2: answer each complete request with `try await router.handle(HTTPRequest(head:body:))`,
    ///         serialized with `HTTPSerializer.response` and a `Content-Length` field.
    /// Step 3: errors — an `HTTPError` from the router is answered with its status; any other
    ///         error with 500; a malformed request with its `HTTPParseError.status`, then return.
    /// Step 4: keep-alive unless `Connection: close` or HTTP/1.0 (`head.keepAlive` knows); and
    ///         return when no request starts within `idleTimeout` (a read deadline).
    public func serve(_ connection: any ByteStream, router: Router, idleTimeout: Duration) async {
        // Not written yet: the connection is dropped without an answer.
    }
}
