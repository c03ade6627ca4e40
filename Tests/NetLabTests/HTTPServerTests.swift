import HTTPParser
import NetLab
import TCPSocket
import Testing

/// The server engine over a socketpair: exact bytes in, parsed responses out.
@Suite("HTTPServer in memory", .timeLimit(.minutes(3)))
struct HTTPServerTests {
    let server = HTTPServer(router: testRouter())

    @Test("a GET gets 200 with Content-Length, Date and Server")
    func simpleGet() async throws {
        let (responses, closed) = try await converse(server, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n", responses: 1)
        let response = try #require(responses.first)
        #expect(response.status == 200)
        #expect(response.text == "Hello, World!")
        #expect(response.head.fields["Content-Length"] == "13")
        #expect(response.head.fields["Server"] == "NetLab")
        #expect(response.head.fields["Date"]?.hasSuffix(" GMT") == true)
        #expect(!closed, "HTTP/1.1 keeps the connection open")
    }

    @Test("keep-alive: several requests on one connection, answered in order")
    func keepAlive() async throws {
        let raw = "GET /hello HTTP/1.1\r\nHost: t\r\n\r\nGET /v2/abc/status HTTP/1.1\r\nHost: t\r\n\r\nPOST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nping"
        let (responses, closed) = try await converse(server, raw, responses: 3, methods: [.get, .get, .post])
        #expect(responses.map(\.text) == ["Hello, World!", "status of abc", "ping"])
        #expect(!closed)
    }

    @Test("1,000 pipelined requests in one write come back in order")
    func thousandPipelined() async throws {
        var raw = ""
        for i in 0..<1000 { raw += "GET /v2/\(i)/status HTTP/1.1\r\nHost: t\r\n\r\n" }
        let (responses, _) = try await converse(server, raw, responses: 1000)
        #expect(responses.count == 1000)
        #expect(responses.map(\.text) == (0..<1000).map { "status of \($0)" })
    }

    @Test("Connection: close is honoured: answer, then close")
    func connectionClose() async throws {
        let (responses, closed) = try await converse(server, "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", responses: 1)
        #expect(responses.first?.head.fields["Connection"] == "close")
        #expect(closed)
    }

    @Test("HTTP/1.0 closes by default and keeps alive when asked")
    func http10() async throws {
        let (plain, closedPlain) = try await converse(server, "GET /hello HTTP/1.0\r\n\r\n", responses: 1)
        #expect(plain.first?.status == 200)
        #expect(closedPlain)
        let (kept, closedKept) = try await converse(
            server, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /hello HTTP/1.0\r\n\r\n", responses: 2)
        #expect(kept.first?.head.fields["Connection"] == "keep-alive")
        #expect(kept.count == 2)
        #expect(closedKept)
    }

    @Test("Expect: 100-continue gets a 100 before the final answer")
    func continueExpected() async throws {
        let (client, serverEnd) = try SocketPair.makeStreams()
        let serving = Task(executorPreference: serverEnd.loop) { await server.serve(serverEnd) }
        try await client.write("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        let interim = try await client.readExactly(25, deadline: .after(.seconds(5)))
        #expect(String(decoding: interim, as: UTF8.self) == "HTTP/1.1 100 Continue\r\n\r\n")
        try await client.write("hello")
        var buffer: [UInt8] = []
        while !String(decoding: buffer, as: UTF8.self).hasSuffix("hello") {
            _ = try await client.read(into: &buffer, maxBytes: 4096, deadline: .after(.seconds(5)))
        }
        #expect(String(decoding: buffer, as: UTF8.self).hasPrefix("HTTP/1.1 200 OK\r\n"))
        await client.close()
        await serving.value
    }

    @Test("a streamed response is chunked for HTTP/1.1 and close-delimited for HTTP/1.0")
    func streaming() async throws {
        let (chunked, _) = try await converse(server, "GET /stream HTTP/1.1\r\nHost: t\r\n\r\n", responses: 1)
        #expect(chunked.first?.head.fields["Transfer-Encoding"] == "chunked")
        #expect(chunked.first?.text == "part 1\npart 2\npart 3\n")
        let (plain, closed) = try await converse(server, "GET /stream HTTP/1.0\r\n\r\n", responses: 1)
        #expect(plain.first?.text == "part 1\npart 2\npart 3\n")
        #expect(plain.first?.head.fields["Transfer-Encoding"] == nil)
        #expect(closed)
    }

    @Test("HEAD gets the GET route's head without the body")
    func head() async throws {
        let (responses, _) = try await converse(server, "HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n", responses: 1, methods: [.head])
        #expect(responses.first?.head.fields["Content-Length"] == "13")
        #expect(responses.first?.body.isEmpty == true)
    }

    @Test("routing: 404 for an unknown path, 405 with Allow for a wrong method")
    func routing() async throws {
        let (notFound, _) = try await converse(server, "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n", responses: 1)
        #expect(notFound.first?.status == 404)
        let (wrongMethod, _) = try await converse(server, "DELETE /hello HTTP/1.1\r\nHost: t\r\n\r\n", responses: 1)
        #expect(wrongMethod.first?.status == 405)
        #expect(wrongMethod.first?.head.fields["Allow"] == "GET")
    }

    @Test("a handler that throws gives 500 and the connection keeps serving")
    func handlerThrows() async throws {
        let raw = "GET /fail HTTP/1.1\r\nHost: t\r\n\r\nGET /teapot HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n"
        let (responses, closed) = try await converse(server, raw, responses: 3)
        #expect(responses.map(\.status) == [500, 418, 200])
        #expect(!closed)
    }

    @Test("malformed requests get the parser's status and the connection closes", arguments: [
        ("GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400),
        ("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", 400),
        ("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc", 400),
        ("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999\r\n\r\n", 413),
        ("GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\nHost: t\r\n\r\n", 414),
        ("GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + String(repeating: "b", count: 20000) + "\r\n\r\n", 431),
        ("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        ("GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505),
        ("GET /hello HTTP/1.1\r\n\r\n", 400),
        ("GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    ])
    func badRequests(raw: String, status: Int) async throws {
        let (responses, closed) = try await converse(server, raw, responses: 1)
        #expect(responses.first?.status == status)
        #expect(responses.first?.head.fields["Connection"] == "close")
        #expect(closed)
    }

    @Test("a request cut off by the client's FIN gets 400 and the connection ends")
    func halfSentThenFin() async throws {
        let (responses, closed) = try await converse(
            server, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc", responses: 1, halfClose: true)
        #expect(responses.first?.status == 400)
        #expect(closed)
    }

    @Test("a complete request followed by the client's FIN is still answered")
    func requestThenFin() async throws {
        let (responses, closed) = try await converse(server, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n", responses: 1, halfClose: true)
        #expect(responses.first?.status == 200)
        #expect(closed)
    }

    @Test("query parameters are decoded")
    func query() async throws {
        let (responses, _) = try await converse(server, "GET /query?q=a%20b+c&x=1 HTTP/1.1\r\nHost: t\r\n\r\n", responses: 1)
        #expect(responses.first?.text == "a b c")
    }
}

@Suite("Router", .timeLimit(.minutes(3)))
struct RouterTests {
    @Test("literal segments beat parameters; parameters are percent-decoded")
    func precedence() async throws {
        var router = Router()
        router.get("/v2/{id}/status") { request in .text("param \(request.pathParameters["id"]!)") }
        router.get("/v2/token/status") { _ in .text("literal") }
        guard case .handler(_, let parameters) = router.match(method: .get, path: "/v2/order%20one/status") else {
            Issue.record("no match")
            return
        }
        #expect(parameters == ["id": "order one"])
        guard case .handler(let handler, let none) = router.match(method: .get, path: "/v2/token/status") else {
            Issue.record("no match")
            return
        }
        #expect(none.isEmpty)
        let response = try await handler(HTTPRequest(head: HTTPRequestHead(method: .get, target: "/v2/token/status")))
        guard case .bytes(let body) = response.body else { return }
        #expect(String(decoding: body, as: UTF8.self) == "literal")
    }

    @Test("an empty segment does not bind a parameter")
    func emptySegment() {
        var router = Router()
        router.get("/v2/{id}/status") { _ in .text("x") }
        guard case .notFound = router.match(method: .get, path: "/v2//status") else {
            Issue.record("matched an empty id")
            return
        }
    }
}
