import Foundation
import HTTPParser
import NetLab
import TCPSocket
import Testing

/// The HTTP layer's seam: a parser of one's own (here a wrapper that counts what it parses)
/// plugged into the server and the client through their configurations, as a student's is.
@Suite("Parser seam", .timeLimit(.minutes(3)))
struct ParserSeamTests {
    /// Another parser behind `HTTPMessageParsing`: it delegates, and counts the events.
    struct CountingParser: HTTPMessageParsing {
        var inner: HTTPMessageParser
        let seen: Counter

        mutating func receive(_ bytes: some Collection<UInt8>) { inner.receive(bytes) }
        mutating func receiveEndOfStream() { inner.receiveEndOfStream() }
        mutating func expectResponse(to method: HTTPMethod) { inner.expectResponse(to: method) }
        mutating func nextEvent() throws(HTTPParseError) -> HTTPEvent? {
            let event = try inner.nextEvent()
            if case .endOfMessage? = event { seen.add(inner.kind) }
            return event
        }
    }

    final class Counter: Sendable {
        private let counts = Locked<[HTTPMessageParser.Kind: Int]>([:])
        func add(_ kind: HTTPMessageParser.Kind) { counts.withLock { $0[kind, default: 0] += 1 } }
        subscript(_ kind: HTTPMessageParser.Kind) -> Int { counts.withLock { $0[kind, default: 0] } }
    }

    @Test("a plugged-in parser reads every request on the server and every response on the client; keep-alive still works")
    func pluggedIn() async throws {
        let counter = Counter()
        let factory: HTTPParserFactory = { kind, limits in CountingParser(inner: HTTPMessageParser(parsing: kind, limits: limits), seen: counter) }
        var server = HTTPServerConfiguration()
        server.parser = factory
        try await withServer(configuration: server) { _, address in
            var configuration = HTTPClientConfiguration()
            configuration.parser = factory
            let client = HTTPClient(configuration: configuration)
            for _ in 0..<3 {
                let hello = try await client.get("http://127.0.0.1:\(address.port)/hello")
                #expect(hello.status == 200 && hello.text == "Hello, World!")
            }
            #expect(client.idleConnectionCount == 1, "one kept-alive connection carried all three")
            await client.shutdown()
        }
        #expect(counter[.requests] == 3 && counter[.responses] == 3)
    }
}
