import HTTPParser
import Testing

@Suite("HTTPMessageParser behaviour", .timeLimit(.minutes(3)))
struct ParserBehaviourTests {
    @Test("after an error, every call rethrows the same error")
    func stickyError() {
        var parser = HTTPMessageParser(parsing: .requests)
        parser.receive("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n")
        #expect(throws: HTTPParseError.whitespaceBeforeColon(offset: 19)) { try parser.nextEvent() }
        parser.receive("GET / HTTP/1.1\r\n\r\n")
        #expect(throws: HTTPParseError.whitespaceBeforeColon(offset: 19)) { try parser.nextEvent() }
    }

    @Test("1,000 pipelined requests in one buffer come out in order")
    func thousandPipelined() throws {
        var parser = HTTPMessageParser(parsing: .requests)
        var input = ""
        for i in 0..<1000 { input += "POST /\(i) HTTP/1.1\r\nContent-Length: \(String(i).count)\r\n\r\n\(i)" }
        parser.receive(input)
        var targets: [String] = []
        var bodies: [String] = []
        while let event = try parser.nextEvent() {
            if case .requestHead(let head) = event { targets.append(head.target) }
            if case .body(let bytes) = event { bodies.append(String(decoding: bytes, as: UTF8.self)) }
        }
        #expect(targets == (0..<1000).map { "/\($0)" })
        #expect(bodies == (0..<1000).map { "\($0)" })
        #expect(parser.bufferedByteCount == 0)
    }

    @Test("a head dripped one byte at a time is scanned once (the buffer never holds more than the head)")
    func slowloris() throws {
        var parser = HTTPMessageParser(parsing: .requests)
        let head = "GET / HTTP/1.1\r\n" + String(repeating: "X-Drip: 1\r\n", count: 50) + "\r\n"
        var events: [HTTPEvent] = []
        for byte in head.utf8 {
            parser.receive(CollectionOfOne(byte))
            while let event = try parser.nextEvent() { events.append(event) }
        }
        #expect(events.count == 2)
        #expect(parser.bufferedByteCount == 0)
    }

    @Test("responses follow the order of expectResponse calls (HEAD, then GET)")
    func methodQueue() throws {
        var parser = HTTPMessageParser(parsing: .responses)
        parser.expectResponse(to: .head)
        parser.expectResponse(to: .get)
        parser.receive("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc")
        var bodies = 0
        var ends = 0
        while let event = try parser.nextEvent() {
            if case .body = event { bodies += 1 }
            if case .endOfMessage = event { ends += 1 }
        }
        #expect(ends == 2)
        #expect(bodies == 1)
    }

    @Test("end of stream between messages is a clean close")
    func cleanClose() throws {
        var parser = HTTPMessageParser(parsing: .requests)
        parser.receive("GET / HTTP/1.1\r\n\r\n")
        while try parser.nextEvent() != nil {}
        parser.receiveEndOfStream()
        #expect(try parser.nextEvent() == nil)
    }

    @Test("the default limits are the documented ones")
    func defaultLimits() {
        let limits = HTTPLimits()
        #expect(limits.maxRequestLineLength == 8192)
        #expect(limits.maxHeadSize == 16384)
        #expect(limits.maxFieldCount == 100)
        #expect(limits.maxBodySize == 16 << 20)
        #expect(limits.maxChunkExtensionLength == 1024)
    }
}

@Suite("HTTPMessageParser upgrades", .timeLimit(.minutes(3)))
struct ParserUpgradeTests {
    @Test("a declined Upgrade goes back to parsing HTTP (curl's h2c probe, then a pipelined request)")
    func declinedUpgrade() throws {
        var parser = HTTPMessageParser(parsing: .requests)
        parser.receive("GET / HTTP/1.1\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAA\r\n\r\nGET /next HTTP/1.1\r\n\r\n")
        var events: [HTTPEvent] = []
        while let event = try parser.nextEvent() { events.append(event) }
        #expect(events.count == 3)
        #expect(events.last == .upgrade(remaining: Array("GET /next HTTP/1.1\r\n\r\n".utf8)))
        parser.declineUpgrade()
        guard case .requestHead(let next)? = try parser.nextEvent() else {
            Issue.record("the pipelined request did not come out after declineUpgrade")
            return
        }
        #expect(next.target == "/next")
        #expect(try parser.nextEvent() == .endOfMessage)
    }

    @Test("bytes arriving after an accepted upgrade are handed out once each")
    func laterBytes() throws {
        var parser = HTTPMessageParser(parsing: .requests)
        parser.receive("CONNECT h:1 HTTP/1.1\r\n\r\nab")
        var events: [HTTPEvent] = []
        while let event = try parser.nextEvent() { events.append(event) }
        #expect(events.last == .upgrade(remaining: Array("ab".utf8)))
        parser.receive("cd")
        #expect(try parser.nextEvent() == .upgrade(remaining: Array("cd".utf8)))
        #expect(try parser.nextEvent() == nil)
    }
}
