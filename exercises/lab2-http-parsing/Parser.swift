// Lab 2 — HTTP parsing. Build a sans-IO HTTP/1.1 parser behind `HTTPMessageParsing`; see
// README.md (English) or README.id.md (Bahasa Indonesia). Run `swift run lab check 2`.
import HTTPParser
import NetLabConformance

public struct StudentParser: HTTPMessageParsing, Sendable {
    public let configuration: ParserConfiguration
    /// Bytes received and not yet turned into events.
    var buffer: [UInt8] = []
    /// Where parsing has got to in `buffer`.
    var position = 0

    public init(_ configuration: ParserConfiguration) {
        self.configuration = configuration
    }

    /// Step 1: keep the bytes; parse them in `nextEvent`.
    public mutating func receive(_ bytes: some Collection<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    /// Step 4: the peer closed. A body delimited by the close (a response without Content-Length)
    /// ends here; anything else half-received is `.incompleteMessage`.
    public mutating func receiveEndOfStream() {}

    /// Step 3: remember the request methods in order (a response to HEAD has no body).
    public mutating func expectResponse(to method: HTTPMethod) {}

    /// Steps 1–4: the next event (a head, a piece of body, trailers, the end of a message), or nil
    /// when more bytes are needed; a malformed message throws the `HTTPParseError` naming the rule
    /// and the byte offset.
    public mutating func nextEvent() throws(HTTPParseError) -> HTTPEvent? {
        guard position < buffer.count else { return nil }
        // Not written yet: every byte is reported as breaking the first rule a request can break.
        throw HTTPParseError.invalidMethod(offset: position)
    }

    public var bufferedByteCount: Int { buffer.count - position }
}
