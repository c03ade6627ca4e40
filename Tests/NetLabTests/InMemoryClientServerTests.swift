import Foundation
import HTTPParser
import NetLab
import TCPSocket
import Testing

/// The client and the server engines joined by socketpairs — no ports, no listener: the
/// ByteStream seam in action (TLS will plug in the same way).
@Suite("HTTPClient ⇄ HTTPServer over socketpairs", .timeLimit(.minutes(3)))
struct InMemoryClientServerTests {
    /// A client whose every new connection is a socketpair whose other end the server serves.
    final class Counter: Sendable {
        let value = Locked(0)
    }

    static func pairedClient(_ server: HTTPServer) -> (HTTPClient, Counter) {
        let opened = Counter()
        let client = HTTPClient(connector: { _, _, _ in
            let (clientEnd, serverEnd) = try SocketPair.makeStreams()
            opened.value.withLock { $0 += 1 }
            Task(executorPreference: serverEnd.loop) { await server.serve(serverEnd) }
            return clientEnd
        })
        return (client, opened)
    }

    @Test("requests, JSON and keep-alive reuse without a single port")
    func overSocketpairs() async throws {
        struct Item: Codable, Equatable { var id: String }
        var router = testRouter()
        router.post("/items") { request in try .json(try request.decodeJSON(Item.self), status: 201) }
        let server = HTTPServer(router: router)
        let (client, opened) = Self.pairedClient(server)
        let base = "http://in-memory"
        #expect(try await client.get(base + "/hello").text == "Hello, World!")
        let (response, item) = try await client.postJSON(base + "/items", Item(id: "a-1"), as: Item.self)
        #expect(response.status == 201 && item == Item(id: "a-1"))
        #expect(try await client.get(base + "/stream").text == "part 1\npart 2\npart 3\n")
        #expect(opened.value.withLock { $0 } == 1, "keep-alive: every request went over the first connection")
        await client.shutdown()
    }

    @Test("whatever bytes a client sends, the server answers or closes — it never crashes or wedges")
    func arbitraryBytes() async throws {
        var generator = SystemRandomNumberGenerator()
        let server = HTTPServer(router: testRouter())
        let prefixes = ["GET / HTTP/1.1\r\n", "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n", "", "GET /hello HTTP/1.1\r\nHost: t\r\n"]
        for round in 0..<100 {
            let noise = (0..<Int.random(in: 0...200, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let input = Array(prefixes[round % prefixes.count].utf8) + noise
            let (client, serverEnd) = try SocketPair.makeStreams()
            let serving = Task(executorPreference: serverEnd.loop) { await server.serve(serverEnd) }
            try await client.write(input)
            try await client.shutdownWrite()
            // The server must end the conversation by itself (answer and/or close) well before this.
            let reply = try await client.readToEnd(deadline: .after(.seconds(5)))
            if !reply.isEmpty {
                #expect(String(decoding: reply.prefix(9), as: UTF8.self) == "HTTP/1.1 ", "round \(round): \(reply.prefix(40))")
            }
            await client.close()
            await serving.value
        }
    }
}
