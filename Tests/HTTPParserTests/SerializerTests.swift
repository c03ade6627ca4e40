import HTTPParser
import Testing

@Suite("HTTPSerializer", .timeLimit(.minutes(3)))
struct SerializerTests {
    @Test("a request is written byte for byte as RFC 9112 shapes it")
    func requestBytes() throws {
        let head = HTTPRequestHead(method: .post, target: "/v2/charge", fields: HTTPFields(["Host": "gw.example"]))
        let bytes = try HTTPSerializer.request(head, body: Array("{}".utf8))
        #expect(String(decoding: bytes, as: UTF8.self)
            == "POST /v2/charge HTTP/1.1\r\nHost: gw.example\r\nContent-Length: 2\r\n\r\n{}")
    }

    @Test("a response gets its reason phrase and Content-Length")
    func responseBytes() throws {
        let bytes = try HTTPSerializer.response(HTTPResponseHead(status: 404), body: Array("none".utf8))
        #expect(String(decoding: bytes, as: UTF8.self) == "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnone")
    }

    @Test("chunked: hex sizes, CRLF after each chunk, a last-chunk with trailers")
    func chunkedBytes() {
        var out: [UInt8] = []
        HTTPSerializer.writeChunk(Array(repeating: UInt8(ascii: "x"), count: 26), into: &out)
        HTTPSerializer.writeChunk([UInt8](), into: &out)  // nothing: an empty chunk would end the body
        HTTPSerializer.writeLastChunk(trailers: HTTPFields(["X-Sum": "1"]), into: &out)
        #expect(String(decoding: out, as: UTF8.self) == "1a\r\n" + String(repeating: "x", count: 26) + "\r\n0\r\nX-Sum: 1\r\n\r\n")
    }

    /// Found by the `roundtrip` fuzz target: the parser reads `Content-Length: 003` as 3
    /// (RFC 9110 §8.6: `1*DIGIT`), and the serializer compared the text and refused it.
    /// `3, 3` is not here: the parser refuses a list (RFC 9112 §6.3 lets it).
    @Test("a Content-Length the parser accepts is one the serializer writes: compared as a number", arguments: [
        ("003", 3), ("0", 0), ("00", 0),
    ])
    func contentLengthAsNumber(declared: String, length: Int) throws {
        var fields = HTTPFields(["Host": "gw.example"])
        try fields.append(name: "Content-Length", value: declared)
        let head = HTTPRequestHead(method: .post, target: "/", fields: fields)
        let bytes = try HTTPSerializer.request(head, body: Array(repeating: UInt8(ascii: "x"), count: length))
        var parser = HTTPMessageParser(parsing: .requests)
        parser.receive(bytes)
        guard case .requestHead(let back) = try parser.nextEvent() else { Issue.record("no head"); return }
        #expect(back.fields == head.fields)
        #expect(back.framing == .length(UInt64(length)) || (length == 0 && back.framing == .none))
        #expect(throws: HTTPSerializeError.self) { try HTTPSerializer.request(head, body: Array(repeating: 0, count: length + 1)) }
    }

    @Test("a field value with CR or LF cannot even be stored: no header injection", arguments: [
        "a\r\nSet-Cookie: evil", "a\nb", "a\rb", "nul\u{0}", "bell\u{7}",
    ])
    func injectionRefused(value: String) {
        var fields = HTTPFields()
        #expect(throws: HTTPFieldError.self) { try fields.append(name: "X-Note", value: value) }
        #expect(fields.isEmpty)
    }

    @Test("a field name must be a token", arguments: ["", "Bad Name", "a:b", "x\r\n", "caf\u{e9}"])
    func badNames(name: String) {
        var fields = HTTPFields()
        #expect(throws: HTTPFieldError.invalidName(name)) { try fields.append(name: name, value: "v") }
    }

    @Test("a value with surrounding whitespace is refused (a parser would strip it)")
    func surroundingWhitespace() {
        var fields = HTTPFields()
        #expect(throws: HTTPFieldError.surroundingWhitespace(name: "X")) { try fields.append(name: "X", value: " v") }
    }

    @Test("a request-target with a space or control byte is refused", arguments: ["/a b", "", "/x\r\nHost: evil", "/\u{7f}"])
    func badTarget(target: String) {
        let head = HTTPRequestHead(method: .get, target: target)
        #expect(throws: HTTPSerializeError.invalidRequestTarget(target)) { try HTTPSerializer.request(head) }
    }

    @Test("a reason phrase with CR/LF is refused")
    func badReason() {
        let head = HTTPResponseHead(status: 200, reason: "OK\r\nSet-Cookie: x")
        #expect(throws: HTTPSerializeError.invalidReasonPhrase("OK\r\nSet-Cookie: x")) { try HTTPSerializer.response(head) }
    }

    @Test("Content-Length with Transfer-Encoding is never emitted")
    func conflictingFraming() {
        let head = HTTPRequestHead(
            method: .post, target: "/", fields: HTTPFields(["Content-Length": "1", "Transfer-Encoding": "chunked"]))
        #expect(throws: HTTPSerializeError.conflictingFraming) { try HTTPSerializer.request(head, body: [1]) }
    }

    @Test("a declared Content-Length must match the body")
    func lengthMismatch() {
        let head = HTTPRequestHead(method: .post, target: "/", fields: HTTPFields(["Content-Length": "5"]))
        #expect(throws: HTTPSerializeError.self) { try HTTPSerializer.request(head, body: [1, 2]) }
    }

    @Test("204 and 304 responses carry no body and no Content-Length")
    func bodilessStatus() throws {
        #expect(throws: HTTPSerializeError.self) { try HTTPSerializer.response(HTTPResponseHead(status: 204), body: [1]) }
        let bytes = try HTTPSerializer.response(HTTPResponseHead(status: 304))
        #expect(String(decoding: bytes, as: UTF8.self) == "HTTP/1.1 304 Not Modified\r\n\r\n")
    }

    @Test("status codes outside 100...999 are refused", arguments: [0, 99, 1000, -1])
    func badStatus(status: Int) {
        #expect(throws: HTTPSerializeError.invalidStatusCode(status)) {
            try HTTPSerializer.response(HTTPResponseHead(status: status, reason: "x"))
        }
    }
}

@Suite("HTTPFields", .timeLimit(.minutes(3)))
struct HTTPFieldsTests {
    @Test("lookup is case-insensitive; order, case and repeats are kept")
    func lookup() {
        let fields = HTTPFields(["Accept": "a", "X-Tag": "1", "x-tag": "2"])
        #expect(fields["accept"] == "a")
        #expect(fields["X-TAG"] == "1")
        #expect(fields.values(of: "x-Tag") == ["1", "2"])
        #expect(fields.map(\.name) == ["Accept", "X-Tag", "x-tag"])
        #expect(fields["Missing"] == nil)
    }

    @Test("names and values can be read as bytes without a String")
    func zeroCopy() {
        let fields = HTTPFields(["Host": "gw"])
        #expect(fields.withName(at: 0) { Array($0) } == Array("Host".utf8))
        #expect(fields.withValue(at: 0) { Array($0) } == Array("gw".utf8))
    }

    @Test("removeAll(named:) drops every field of that name")
    func remove() {
        var fields = HTTPFields(["A": "1", "B": "2", "a": "3"])
        fields.removeAll(named: "A")
        #expect(fields.map(\.name) == ["B"])
    }
}

@Suite("HTTPParseError", .timeLimit(.minutes(3)))
struct HTTPParseErrorTests {
    @Test("each error maps to its status", arguments: [
        (HTTPParseError.requestLineTooLong(limit: 1, offset: 0), 414), (.headTooLarge(limit: 1, offset: 0), 431),
        (.tooManyFields(limit: 1, offset: 0), 431), (.bodyTooLarge(limit: 1, offset: 0), 413),
        (.unsupportedTransferCoding(offset: 0), 501), (.unsupportedVersion(HTTPVersion(major: 2, minor: 0), offset: 0), 505),
        (.bareLF(offset: 0), 400), (.contentLengthWithTransferEncoding(offset: 0), 400),
    ])
    func status(error: HTTPParseError, status: Int) {
        #expect(error.status == status)
    }

    @Test("the description names the rule, the byte and the status")
    func description() {
        let text = HTTPParseError.whitespaceBeforeColon(offset: 20).description
        #expect(text.contains("RFC 9112 §5.1"))
        #expect(text.contains("byte 20"))
        #expect(text.contains("400"))
    }

    @Test("shifted(by:) moves only the offset")
    func shifted() {
        #expect(HTTPParseError.invalidFieldValue(byte: 0, offset: 3).shifted(by: 10) == .invalidFieldValue(byte: 0, offset: 13))
    }
}

@Suite("HTTPSerializer framing refusals", .timeLimit(.minutes(3)))
struct SerializerFramingTests {
    @Test("a 304 may repeat Transfer-Encoding but gets no body bytes (no stray last-chunk)")
    func notModifiedWithTransferEncoding() throws {
        let head = HTTPResponseHead(status: 304, fields: HTTPFields(["Transfer-Encoding": "chunked"]))
        let bytes = try HTTPSerializer.response(head)
        #expect(String(decoding: bytes, as: UTF8.self) == "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n")
    }

    @Test("a 204 with Content-Length is refused")
    func noContentWithLength() {
        let head = HTTPResponseHead(status: 204, fields: HTTPFields(["Content-Length": "0"]))
        #expect(throws: HTTPSerializeError.self) { try HTTPSerializer.response(head) }
    }

    @Test("versions other than HTTP/1.x are refused", arguments: [HTTPVersion(major: 2, minor: 0), HTTPVersion(major: 0, minor: 9), HTTPVersion(major: 1, minor: 10)])
    func versions(version: HTTPVersion) {
        let head = HTTPRequestHead(method: .get, target: "/", version: version)
        #expect(throws: HTTPSerializeError.unsupportedVersion(version)) { try HTTPSerializer.request(head) }
    }

    @Test("request transfer codings the parser would reject are refused", arguments: ["gzip, chunked", "chunked, chunked", "chunked x", "gzip"])
    func requestCodings(value: String) {
        let head = HTTPRequestHead(method: .post, target: "/", fields: HTTPFields(["Transfer-Encoding": value]))
        #expect(throws: HTTPSerializeError.conflictingFraming) { try HTTPSerializer.request(head, body: [1]) }
    }
}
