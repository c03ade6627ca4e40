import HTTPParser

/// The HTTP/1.1 parser's specification as data: one vector per behaviour, named like a line
/// of RFC 9112. The reference parser's tests and the HTTP-parsing lab run the same table.
/// (One file on purpose, over 500 lines: it is one table — the parser's specification — and
/// reads best whole, section by section of the RFC.)
public enum HTTPParserVectors {
    public static let requestConfiguration = ParserConfiguration(kind: .requests)
    public static let responseConfiguration = ParserConfiguration(kind: .responses)

    public static var all: [ParserVector] { requests + requestErrors + responses + leniency }

    // MARK: Requests that parse

    public static let requests: [ParserVector] = [
        .request(
            "a GET with one field", "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
            [head(.get, "/", ["Host": "example.com"]), .endOfMessage]),
        .request(
            "field names keep their case and repeated fields keep their order",
            "GET /a HTTP/1.1\r\nHost: x\r\nX-Tag: one\r\nx-tag: two\r\nACCEPT: */*\r\n\r\n",
            [head(.get, "/a", ["Host": "x", "X-Tag": "one", "x-tag": "two", "ACCEPT": "*/*"]), .endOfMessage]),
        .request(
            "whitespace around a field value is not part of it",
            "GET / HTTP/1.1\r\nHost:   x  \t\r\nX-Empty:\r\nX-Inner: a  b\r\n\r\n",
            [head(.get, "/", ["Host": "x", "X-Empty": "", "X-Inner": "a  b"]), .endOfMessage]),
        .request(
            "obs-text (bytes 0x80-0xFF) is allowed in a field value",
            "GET /caf%C3%A9 HTTP/1.1\r\nX-Name: Jos\u{e9}\r\n\r\n",
            [head(.get, "/caf%C3%A9", ["X-Name": "Jos\u{e9}"]), .endOfMessage]),
        .request(
            "a POST with a Content-Length body",
            "POST /v2/charge HTTP/1.1\r\nHost: gw\r\nContent-Length: 11\r\n\r\n{\"a\":\"b\"}\r\n",
            [head(.post, "/v2/charge", ["Host": "gw", "Content-Length": "11"], framing: .length(11)),
             .body(ArraySlice("{\"a\":\"b\"}\r\n".utf8)), .endOfMessage]),
        .request(
            "Content-Length with leading zeros is still decimal",
            "POST / HTTP/1.1\r\nContent-Length: 003\r\n\r\nabc",
            [head(.post, "/", ["Content-Length": "003"], framing: .length(3)), .body(ArraySlice("abc".utf8)), .endOfMessage]),
        .request(
            "Content-Length: 0 means no body",
            "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            [head(.post, "/", ["Content-Length": "0"]), .endOfMessage]),
        .request(
            "a chunked body: sizes in hex, extensions ignored, trailers kept apart",
            "POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "5;name=value\r\nhello\r\nA; a=\"q\\\"t\" ;b\r\n, world!!!\r\n0\r\nX-Checksum: 42\r\n\r\n",
            [head(.post, "/up", ["Transfer-Encoding": "chunked"], framing: .chunked),
             .body(ArraySlice("hello, world!!!".utf8)), .trailers(HTTPFields(["X-Checksum": "42"])), .endOfMessage]),
        .request(
            "chunked, with the coding name in any case and a last-chunk of several zeros",
            "POST / HTTP/1.1\r\nTransfer-Encoding: ChUnKeD\r\n\r\n3\r\nabc\r\n000\r\n\r\n",
            [head(.post, "/", ["Transfer-Encoding": "ChUnKeD"], framing: .chunked), .body(ArraySlice("abc".utf8)),
             .endOfMessage]),
        .request(
            "empty lines before a request-line are ignored (RFC 9112 §2.2)",
            "\r\n\r\nGET / HTTP/1.1\r\n\r\n", [head(.get, "/"), .endOfMessage]),
        .request(
            "three pipelined requests come out in order",
            "GET /1 HTTP/1.1\r\n\r\nPOST /2 HTTP/1.1\r\nContent-Length: 1\r\n\r\nxGET /3 HTTP/1.1\r\n\r\n",
            [head(.get, "/1"), .endOfMessage, head(.post, "/2", ["Content-Length": "1"], framing: .length(1)),
             .body(ArraySlice("x".utf8)), .endOfMessage, head(.get, "/3"), .endOfMessage]),
        .request(
            "an unknown but well-formed method is a method (RFC 9110 §9.1)",
            "PURGE-ALL /cache HTTP/1.1\r\n\r\n", [head(HTTPMethod("PURGE-ALL"), "/cache"), .endOfMessage]),
        .request(
            "absolute-form target", "GET http://example.com/x?y=1 HTTP/1.1\r\n\r\n",
            [head(.get, "http://example.com/x?y=1"), .endOfMessage]),
        .request(
            "an absolute-URI of another scheme may have no authority (RFC 3986 §4.3; the server refuses the scheme)",
            "GET urn:isbn:0451450523 HTTP/1.1\r\n\r\n", [head(.get, "urn:isbn:0451450523"), .endOfMessage]),
        .request(
            "asterisk-form target for OPTIONS", "OPTIONS * HTTP/1.1\r\n\r\n", [head(.options, "*"), .endOfMessage]),
        .request(
            "HTTP/1.0 without keep-alive closes the connection", "GET / HTTP/1.0\r\n\r\n",
            [head(.get, "/", version: .http1_0, keepAlive: false), .endOfMessage]),
        .request(
            "HTTP/1.0 with Connection: keep-alive persists",
            "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\n",
            [head(.get, "/", ["Connection": "keep-alive"], version: .http1_0, keepAlive: true), .endOfMessage,
             head(.get, "/2", version: .http1_0, keepAlive: false), .endOfMessage]),
        .request(
            "Connection: close (among other options) ends keep-alive",
            "GET / HTTP/1.1\r\nConnection: foo, CLOSE\r\n\r\n",
            [head(.get, "/", ["Connection": "foo, CLOSE"], keepAlive: false), .endOfMessage]),
        .request(
            "Expect: 100-continue is reported to the caller",
            "PUT /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
            [head(.put, "/f", ["Expect": "100-continue", "Content-Length": "2"], framing: .length(2), expectsContinue: true),
             .body(ArraySlice("hi".utf8)), .endOfMessage]),
        .request(
            "CONNECT stops HTTP parsing and hands back the tunnel's bytes",
            "CONNECT gw.example:443 HTTP/1.1\r\nHost: gw.example:443\r\n\r\n\u{16}\u{03}\u{01}hello",
            [head(.connect, "gw.example:443", ["Host": "gw.example:443"]), .endOfMessage,
             .upgrade(remaining: Array("\u{16}\u{03}\u{01}hello".utf8))]),
        .request(
            "Upgrade with Connection: upgrade stops after the message",
            "GET /chat HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\u{01}\u{05}hello",
            [head(.get, "/chat", ["Connection": "Upgrade", "Upgrade": "websocket"]), .endOfMessage,
             .upgrade(remaining: [0x01, 0x05] + Array("hello".utf8))]),
        .request(
            "Upgrade in an HTTP/1.0 request is ignored (RFC 9110 §7.8)",
            "GET / HTTP/1.0\r\nConnection: Upgrade, keep-alive\r\nUpgrade: websocket\r\n\r\nGET /2 HTTP/1.0\r\n\r\n",
            [head(.get, "/", ["Connection": "Upgrade, keep-alive", "Upgrade": "websocket"], version: .http1_0, keepAlive: true),
             .endOfMessage, head(.get, "/2", version: .http1_0, keepAlive: false), .endOfMessage]),
        .request(
            "an Upgrade field without Connection: upgrade is just a field",
            "GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", [head(.get, "/", ["Upgrade": "websocket"]), .endOfMessage]),
        .request(
            "HTTP/1.2 is understood as HTTP/1.1 (RFC 9110 §6.2)", "GET / HTTP/1.2\r\n\r\n",
            [head(.get, "/", version: HTTPVersion(major: 1, minor: 2), keepAlive: true), .endOfMessage]),
        .request(
            "a head with no fields", "DELETE /v2/1 HTTP/1.1\r\n\r\n", [head(.delete, "/v2/1"), .endOfMessage]),
        .request(
            "an incomplete head waits for more", "GET / HTTP/1.1\r\nHost: a\r\n", []),
        .request(
            "an incomplete body waits for more", "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc",
            [head(.post, "/", ["Content-Length": "10"], framing: .length(10)), .body(ArraySlice("abc".utf8))]),
    ]

    // MARK: Requests that must be rejected

    public static let requestErrors: [ParserVector] = [
        .rejected(
            "Content-Length with Transfer-Encoding (request smuggling, CL.TE)",
            "POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        ) { .contentLengthWithTransferEncoding(offset: $0.at("Transfer-Encoding")) },
        .rejected(
            "Transfer-Encoding then Content-Length (TE.CL)",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n"
        ) { .contentLengthWithTransferEncoding(offset: $0.at("Content-Length")) },
        .rejected(
            "two Content-Length fields, even with equal values",
            "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"
        ) { .duplicateContentLength(offset: $0.at("Content-Length", occurrence: 2)) },
        .rejected("Content-Length with a sign", "POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\nabc") {
            .invalidContentLength(offset: $0.at("+3"))
        },
        .rejected("Content-Length with a space inside", "POST / HTTP/1.1\r\nContent-Length: 4 2\r\n\r\n") {
            .invalidContentLength(offset: $0.at("4 2", 1))
        },
        .rejected("Content-Length as a list", "POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\nabc") {
            .invalidContentLength(offset: $0.at("3, 3", 1))
        },
        .rejected("an empty Content-Length", "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n") {
            .invalidContentLength(offset: $0.at("\r\n\r\n"))
        },
        .rejected(
            "a Content-Length that does not fit in 64 bits",
            "POST / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n"
        ) { .invalidContentLength(offset: $0.at("18446744073709551616", 19)) },
        .rejected(
            "a request Transfer-Encoding that does not end in chunked",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"
        ) { .transferEncodingNotChunkedLast(offset: $0.at("Transfer-Encoding")) },
        .rejected(
            "chunked applied twice", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
        ) { .transferEncodingNotChunkedLast(offset: $0.at("Transfer-Encoding")) },
        .rejected(
            "\"chunkedchunked\" is not chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: chunkedchunked\r\n\r\n"
        ) { .transferEncodingNotChunkedLast(offset: $0.at("Transfer-Encoding")) },
        .rejected(
            "a transfer coding NetLab cannot decode is 501",
            "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
        ) { .unsupportedTransferCoding(offset: $0.at("Transfer-Encoding")) },
        .rejected(
            "a CONNECT request announcing content (it has none, RFC 9110 §9.3.6)",
            "CONNECT gw:443 HTTP/1.1\r\nContent-Length: 2\r\n\r\nab"
        ) { .framingOnConnect(offset: $0.at("Content-Length")) },
        .rejected("Transfer-Encoding with text after the coding", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked x\r\n\r\n") {
            .invalidTransferEncoding(offset: $0.at(" x", 1))
        },
        .rejected("a parameter on chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked;q=1\r\n\r\n") {
            .invalidTransferEncoding(offset: $0.at(";q"))
        },
        .rejected(
            "a comma inside a quoted transfer-parameter does not start a coding",
            "POST / HTTP/1.1\r\nTransfer-Encoding: gzip;p=\"a,chunked\"\r\n\r\n"
        ) { .transferEncodingNotChunkedLast(offset: $0.at("Transfer-Encoding")) },
        .rejected(
            "a chunk-size with more than 32 digits (leading zeros included)",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + String(repeating: "0", count: 40) + "1\r\n",
            before: [chunkedHead]
        ) { .invalidChunkSize(offset: $0.at("000") + 32) },
        .rejected(
            "a chunk-size that overflows after earlier chunks is 413, not a crash",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nA\r\nffffffffffffffff\r\n",
            before: [chunkedHead, .body(ArraySlice("A".utf8))]
        ) { .bodyTooLarge(limit: 16 << 20, offset: $0.at("ffff", 18)) },
        .rejected(
            "chunk extensions adding up to more than the per-message limit",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                + String(repeating: "1;" + String(repeating: "e", count: 1000) + "\r\nx\r\n", count: 17),
            before: [chunkedHead] + Array(repeating: HTTPEvent.body(ArraySlice("x".utf8)), count: 16)
        ) { .chunkExtensionTooLong(limit: 16 * 1024, offset: $0.at("1;", occurrence: 17) + 16 * 1024 - 16 * 1001 + 1) },
        .rejected("more empty lines before a request than the limit", String(repeating: "\r\n", count: 17) + "GET / HTTP/1.1\r\n\r\n") {
            .tooManyEmptyLines(limit: 16, offset: $0.at("\r\n", occurrence: 17))
        },
        .rejected("Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n") {
            .transferEncodingInHTTP10(offset: $0.at("Transfer-Encoding"))
        },
        .rejected(
            "obs-fold: a field line starting with whitespace",
            "GET / HTTP/1.1\r\nX-A: one\r\n two\r\n\r\n"
        ) { .obsoleteLineFolding(offset: $0.at(" two")) },
        .rejected("whitespace between the start line and the first field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n") {
            .obsoleteLineFolding(offset: $0.at(" Host"))
        },
        .rejected("a bare CR inside a field value", "GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n") {
            .bareCR(offset: $0.at("\rb"))
        },
        .rejected("a bare LF ending a field line", "GET / HTTP/1.1\r\nHost: a\n\r\n") { .bareLF(offset: $0.at("\n\r")) },
        .rejected("a bare LF ending the request-line", "GET / HTTP/1.1\nHost: a\r\n\r\n") { .bareLF(offset: $0.at("\n")) },
        .rejected("a CR not followed by LF at the end of the head", "GET / HTTP/1.1\r\n\rX") {
            .bareCR(offset: $0.at("\rX"))
        },
        .rejected("whitespace before the colon (RFC 9112 §5.1)", "GET / HTTP/1.1\r\nHost : a\r\n\r\n") {
            .whitespaceBeforeColon(offset: $0.at(" :"))
        },
        .rejected("a non-token byte in a field name", "GET / HTTP/1.1\r\nHo(st: a\r\n\r\n") {
            .invalidFieldName(offset: $0.at("("))
        },
        .rejected("a field line without a colon", "GET / HTTP/1.1\r\nHost\r\n\r\n") {
            .invalidFieldName(offset: $0.at("\r\n\r\n"))
        },
        .rejected("an empty field name", "GET / HTTP/1.1\r\n: a\r\n\r\n") { .invalidFieldName(offset: $0.at(": a")) },
        .rejected("NUL in a field value", "GET / HTTP/1.1\r\nX-A: a\u{0}b\r\n\r\n") {
            .invalidFieldValue(byte: 0, offset: $0.at("\u{0}"))
        },
        .rejected("DEL in a field value", "GET / HTTP/1.1\r\nX-A: a\u{7f}\r\n\r\n") {
            .invalidFieldValue(byte: 0x7F, offset: $0.at("\u{7f}"))
        },
        .rejected("a chunk-size that overflows 64 bits", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
            before: [chunkedHead]) {
            .chunkSizeOverflow(offset: $0.at("10000000000000000", 16))
        },
        .rejected("a chunk-size written 0x5", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
            before: [chunkedHead]) {
            .invalidChunkSize(offset: $0.at("x5"))
        },
        .rejected("a chunk-size with a sign", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n",
            before: [chunkedHead]) {
            .invalidChunkSize(offset: $0.at("+5"))
        },
        .rejected("an empty chunk-size", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
            before: [chunkedHead]) {
            .invalidChunkSize(offset: $0.at("\r\n\r\n\r\n", 4))
        },
        .rejected("whitespace after a chunk-size with no extension", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n",
            before: [chunkedHead]) {
            .invalidChunkSize(offset: $0.at(" \r\nhello", 1))
        },
        .rejected(
            "chunk data not followed by CRLF",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n"
        ,
            before: [chunkedHead, .body(ArraySlice("hello".utf8))]) { .missingCRLFAfterChunk(offset: $0.at("XX")) },
        .rejected(
            "a chunk extension without a name", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;=x\r\nhello\r\n0\r\n\r\n"
        ,
            before: [chunkedHead]) { .invalidChunkExtension(offset: $0.at("=x")) },
        .rejected(
            "an unterminated quoted chunk extension",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\"x\r\nhello\r\n0\r\n\r\n"
        ,
            before: [chunkedHead]) { .invalidChunkExtension(offset: $0.at("x\r\nhello", 1)) },
        .rejected(
            "chunk extensions longer than the limit (CVE-2024-22019)",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;" + String(repeating: "a", count: 2000) + "\r\nhello\r\n0\r\n\r\n"
        ,
            before: [chunkedHead]) { .chunkExtensionTooLong(limit: 1024, offset: $0.at(";") + 1024) },
        .rejected("a version that is not HTTP/d.d", "GET / HTTP/1.1x\r\n\r\n") { .invalidVersion(offset: $0.at("x\r")) },
        .rejected("a lowercase http version", "GET / http/1.1\r\n\r\n") { .invalidVersion(offset: $0.at("http")) },
        .rejected("HTTP/2.0 in a request-line is 505, known as soon as the version is read", "GET / HTTP/2.0") {
            .unsupportedVersion(HTTPVersion(major: 2, minor: 0), offset: $0.at("HTTP/2"))
        },
        .rejected("a request-line without a version (HTTP/0.9)", "GET /\r\n\r\n") { .invalidRequestTarget(offset: $0.at("\r\n")) },
        .rejected("two spaces between method and target", "GET  / HTTP/1.1\r\n\r\n") {
            .invalidRequestTarget(offset: $0.at("  ", 1))
        },
        .rejected("a control byte in the request-target", "GET /a\u{1}b HTTP/1.1\r\n\r\n") {
            .invalidRequestTarget(offset: $0.at("\u{1}"))
        },
        .rejected("a raw non-ASCII byte in the request-target (RFC 3986 wants it percent-encoded)", "GET /caf\u{e9} HTTP/1.1\r\n\r\n") {
            .invalidRequestTarget(offset: $0.at("\u{e9}"))
        },
        // Found by the differential fuzz target (llhttp refuses it; the parser let it through).
        .rejected("a request-target of none of RFC 9112 §3.2's four forms", "GET 0/ HTTP/1.1\r\nHost: a\r\n\r\n") {
            .invalidRequestTarget(offset: $0.at("0/"))
        },
        .rejected("an asterisk-form with more after the asterisk", "OPTIONS *x HTTP/1.1\r\n\r\n") { .invalidRequestTarget(offset: $0.at("*")) },
        .rejected("an authority-form whose host is no uri-host (RFC 3986 §3.2.2)", "CONNECT ^gw:443 HTTP/1.1\r\n\r\n") {
            .invalidRequestTarget(offset: $0.at("^"))
        },
        .rejected("an authority-form without a port", "CONNECT [::1] HTTP/1.1\r\n\r\n") { .invalidRequestTarget(offset: $0.at("[")) },
        .rejected("a CONNECT whose target is no authority (RFC 9112 §3.2.3)", "CONNECT gw:<43 HTTP/1.1\r\n\r\n") {
            .invalidRequestTarget(offset: $0.at("gw"))
        },
        .rejected("an absolute-form whose authority holds userinfo", "GET http://user@gw/ HTTP/1.1\r\n\r\n") {
            .invalidRequestTarget(offset: $0.at("http"))
        },
        .rejected("an http URI without an authority (RFC 9110 §4.2.1)", "GET http:/x HTTP/1.1\r\n\r\n") {
            .invalidRequestTarget(offset: $0.at("http"))
        },
        .rejected("an https URI without an authority, in capitals (RFC 9110 §4.2.2)", "GET HTTPS:x HTTP/1.1\r\n\r\n") {
            .invalidRequestTarget(offset: $0.at("HTTPS"))
        },
        .rejected("a method with a non-token byte", "G(ET / HTTP/1.1\r\n\r\n") { .invalidMethod(offset: $0.at("(")) },
        .rejected("an empty method", " / HTTP/1.1\r\n\r\n") { _ in .invalidMethod(offset: 0) },
        .rejected(
            "a second request after Connection: close",
            "GET / HTTP/1.1\r\nConnection: close\r\n\r\nGET /2 HTTP/1.1\r\n\r\n",
            before: [head(.get, "/", ["Connection": "close"], keepAlive: false), .endOfMessage]
        ) { .dataAfterClose(offset: $0.at("GET /2")) },
        .rejected(
            "a second request after an HTTP/1.0 one", "GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n",
            before: [head(.get, "/", version: .http1_0, keepAlive: false), .endOfMessage]
        ) { _ in .dataAfterClose(offset: 18) },
        .rejected(
            "the stream ending inside a body", "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc",
            before: [head(.post, "/", ["Content-Length": "10"], framing: .length(10)), .body(ArraySlice("abc".utf8))],
            endOfStream: true
        ) { $0.end },
        .rejected("the stream ending inside a head", "GET / HTTP/1.1\r\nHo", endOfStream: true) { $0.end },
        .rejected(
            "a request-line longer than the limit is 414",
            "GET /" + String(repeating: "a", count: 200) + " HTTP/1.1\r\n\r\n",
            configuration: limited { $0.maxRequestLineLength = 100 }
        ) { _ in .requestLineTooLong(limit: 100, offset: 100) },
        .rejected(
            "a head larger than the limit is 431, even before it ends",
            "GET / HTTP/1.1\r\nX-Big: " + String(repeating: "b", count: 300),
            configuration: limited { $0.maxHeadSize = 256 }
        ) { _ in .headTooLarge(limit: 256, offset: 256) },
        .rejected(
            "more fields than the limit is 431",
            "GET / HTTP/1.1\r\n" + String(repeating: "A: b\r\n", count: 4) + "\r\n",
            configuration: limited { $0.maxFieldCount = 3 }
        ) { .tooManyFields(limit: 3, offset: $0.at("A: b\r\n\r\n", 5)) },
        .rejected(
            "a Content-Length over the body limit is 413 before any body arrives",
            "POST / HTTP/1.1\r\nContent-Length: 1000\r\n\r\n",
            configuration: limited { $0.maxBodySize = 999 }
        ) { .bodyTooLarge(limit: 999, offset: $0.at("Content-Length")) },
        .rejected(
            "chunks adding up to more than the body limit are 413",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n",
            configuration: limited { $0.maxBodySize = 10 },
            before: [chunkedHead, .body(ArraySlice("hello".utf8))]
        ) { .bodyTooLarge(limit: 10, offset: $0.at("6\r\n", 3)) },
    ]

    // MARK: Responses

    public static let responses: [ParserVector] = [
        .response(
            "a 200 with Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            [response(200, "OK", ["Content-Length": "5"], framing: .length(5)), .body(ArraySlice("hello".utf8)), .endOfMessage]),
        .response(
            "a chunked response with trailers",
            "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nServer-Timing: db;dur=3\r\n\r\n",
            [response(201, "Created", ["Transfer-Encoding": "chunked"], framing: .chunked), .body(ArraySlice("{}".utf8)),
             .trailers(HTTPFields(["Server-Timing": "db;dur=3"])), .endOfMessage]),
        .response(
            "no framing field: the body runs until the connection closes",
            "HTTP/1.1 200 OK\r\n\r\nall of this", endOfStream: true,
            [response(200, "OK", framing: .untilClose, keepAlive: false), .body(ArraySlice("all of this".utf8)), .endOfMessage]),
        .response(
            "a response to HEAD has no body whatever its Content-Length",
            "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", methods: [.head],
            [response(200, "OK", ["Content-Length": "100"]), .endOfMessage]),
        .response(
            "204 and 304 have no body",
            "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
            [response(204, "No Content"), .endOfMessage, response(304, "Not Modified", ["Content-Length": "5"]), .endOfMessage]),
        .response(
            "100 Continue comes before the final response",
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", methods: [.put],
            [response(100, "Continue"), .endOfMessage, response(200, "OK", ["Content-Length": "0"]), .endOfMessage]),
        .response(
            "101 Switching Protocols hands back the new protocol's bytes",
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\u{01}\u{00}",
            [response(101, "Switching Protocols", ["Upgrade": "websocket", "Connection": "Upgrade"]), .endOfMessage,
             .upgrade(remaining: [0x01, 0x00])]),
        .response(
            "a 2xx to CONNECT opens a tunnel", "HTTP/1.1 200 Connection Established\r\n\r\ntunnel", methods: [.connect],
            [response(200, "Connection Established"), .endOfMessage, .upgrade(remaining: Array("tunnel".utf8))]),
        .response(
            "a body over the limit is cut at the first byte past it, however the input is split",
            "HTTP/1.1 200 OK\r\n\r\nabcdefgh", endOfStream: true,
            [response(200, "OK", framing: .untilClose, keepAlive: false), .body(ArraySlice("abcd".utf8))],
            error: .bodyTooLarge(limit: 4, offset: 23), limits: { $0.maxBodySize = 4 }),
        .response(
            "a status-line with an empty reason-phrase", "HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n",
            [response(404, "", ["Content-Length": "0"]), .endOfMessage]),
        .response(
            "a status-line without the space before an empty reason", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
            [response(200, "", ["Content-Length": "0"]), .endOfMessage]),
        .response(
            "a response Transfer-Encoding not ending in chunked is read until close (RFC 9112 §6.3)",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzzz", endOfStream: true,
            [response(200, "OK", ["Transfer-Encoding": "gzip"], framing: .untilClose, keepAlive: false),
             .body(ArraySlice("zzz".utf8)), .endOfMessage]),
        .response(
            "HTTP/1.0 response with keep-alive and a length",
            "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx",
            [response(200, "OK", ["Connection": "keep-alive", "Content-Length": "1"], version: .http1_0, framing: .length(1),
                      keepAlive: true), .body(ArraySlice("x".utf8)), .endOfMessage]),
        .responseRejected("a status code below 100", "HTTP/1.1 099 Odd\r\n\r\n") { .invalidStatusCode(offset: $0.at("099")) },
        .response(
            "a 304 with Transfer-Encoding has no body", "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
            [response(304, "Not Modified", ["Transfer-Encoding": "chunked"]), .endOfMessage]),
        .responseRejected("a two-digit status code", "HTTP/1.1 20 OK\r\n\r\n") { .invalidStatusCode(offset: $0.at(" OK")) },
        .responseRejected("a control byte in the reason-phrase", "HTTP/1.1 200 O\u{1}K\r\n\r\n") {
            .invalidReasonPhrase(offset: $0.at("\u{1}"))
        },
        .responseRejected(
            "a response with Content-Length and Transfer-Encoding",
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
        ) { .contentLengthWithTransferEncoding(offset: $0.at("Transfer-Encoding")) },
        .responseRejected(
            "the stream ending inside a Content-Length body", "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc",
            before: [response(200, "OK", ["Content-Length": "9"], framing: .length(9)), .body(ArraySlice("abc".utf8))],
            endOfStream: true
        ) { $0.end },
    ]

    // MARK: Named leniencies (off by default; each pinned here so it stays a decision)

    public static let leniency: [ParserVector] = [
        ParserVector(
            "allowBareLF: a lone LF ends lines", ParserConfiguration(kind: .requests, options: .allowBareLF),
            input: "GET / HTTP/1.1\nHost: a\n\n",
            expect: ParserOutcome(events: [head(.get, "/", ["Host": "a"]), .endOfMessage])),
        ParserVector(
            "allowBareLF: also in chunk lines", ParserConfiguration(kind: .requests, options: .allowBareLF),
            input: "POST / HTTP/1.1\nTransfer-Encoding: chunked\n\n2\nhi\n0\n\n",
            expect: ParserOutcome(events: [
                head(.post, "/", ["Transfer-Encoding": "chunked"], framing: .chunked), .body(ArraySlice("hi".utf8)),
                .endOfMessage,
            ])),
        .rejected(
            "allowBareLF still rejects a bare CR", "GET / HTTP/1.1\nX: a\rb\n\n",
            configuration: ParserConfiguration(kind: .requests, options: .allowBareLF)
        ) { .bareCR(offset: $0.at("\rb")) },
        ParserVector(
            "allowObsoleteLineFolding: obs-fold becomes SP",
            ParserConfiguration(kind: .responses, options: .allowObsoleteLineFolding),
            input: "HTTP/1.1 200 OK\r\nX-Long: one\r\n  two\r\nContent-Length: 0\r\n\r\n",
            expect: ParserOutcome(events: [
                response(200, "OK", ["X-Long": "one    two", "Content-Length": "0"]), .endOfMessage,
            ])),
    ]

    // MARK: Building expected events

    /// A request head event with the framing and connection facts the parser must derive.
    public static func head(
        _ method: HTTPMethod, _ target: String, _ fields: KeyValuePairs<String, String> = [:],
        version: HTTPVersion = .http1_1, framing: HTTPBodyFraming = .none, keepAlive: Bool? = nil,
        expectsContinue: Bool = false
    ) -> HTTPEvent {
        var head = HTTPRequestHead(method: method, target: target, version: version, fields: HTTPFields(fields))
        head.framing = framing
        head.keepAlive = keepAlive ?? (version.minor >= 1)
        head.expectsContinue = expectsContinue
        return .requestHead(head)
    }

    /// A response head event.
    public static func response(
        _ status: Int, _ reason: String, _ fields: KeyValuePairs<String, String> = [:], version: HTTPVersion = .http1_1,
        framing: HTTPBodyFraming = .none, keepAlive: Bool? = nil
    ) -> HTTPEvent {
        var head = HTTPResponseHead(status: status, reason: reason, version: version, fields: HTTPFields(fields))
        head.framing = framing
        head.keepAlive = keepAlive ?? (version.minor >= 1)
        return .responseHead(head)
    }

    /// The head of the chunked POST the chunk-framing vectors share.
    public static let chunkedHead = head(.post, "/", ["Transfer-Encoding": "chunked"], framing: .chunked)

    static func limited(_ change: (inout HTTPLimits) -> Void) -> ParserConfiguration {
        var limits = HTTPLimits()
        change(&limits)
        return ParserConfiguration(kind: .requests, limits: limits)
    }
}

/// Finds offsets in a vector's input, so expected error offsets are written as "where this
/// text is" rather than as numbers to count by hand.
public struct InputLocator {
    public let input: [UInt8]

    /// The offset of the `occurrence`-th appearance of `needle`, plus `delta`.
    public func at(_ needle: String, _ delta: Int = 0, occurrence: Int = 1) -> Int {
        let n = Array(needle.utf8)
        var seen = 0
        for i in 0...(input.count - n.count) where input[i..<(i + n.count)].elementsEqual(n) {
            seen += 1
            if seen == occurrence { return i + delta }
        }
        preconditionFailure("\"\(needle)\" is not in the vector's input")
    }

    /// The offset just past the input (where an incomplete message is noticed).
    public var end: HTTPParseError { .incompleteMessage(offset: input.count) }
}

extension ParserVector {
    static func request(_ name: String, _ input: String, _ events: [HTTPEvent]) -> ParserVector {
        ParserVector(name, HTTPParserVectors.requestConfiguration, input: input, expect: ParserOutcome(events: events))
    }

    static func response(
        _ name: String, _ input: String, methods: [HTTPMethod] = [], endOfStream: Bool = false, _ events: [HTTPEvent],
        error: HTTPParseError? = nil, limits change: (inout HTTPLimits) -> Void = { _ in }
    ) -> ParserVector {
        var configuration = HTTPParserVectors.responseConfiguration
        change(&configuration.limits)
        return ParserVector(
            name, configuration, input: input, requestMethods: methods, endOfStream: endOfStream,
            expect: ParserOutcome(events: events, error: error))
    }

    static func rejected(
        _ name: String, _ input: String, configuration: ParserConfiguration = HTTPParserVectors.requestConfiguration,
        before events: [HTTPEvent] = [], endOfStream: Bool = false, _ error: (InputLocator) -> HTTPParseError
    ) -> ParserVector {
        let bytes = Array(input.utf8)
        return ParserVector(
            name, configuration, bytes: bytes, endOfStream: endOfStream,
            expect: ParserOutcome(events: events, error: error(InputLocator(input: bytes))))
    }

    static func responseRejected(
        _ name: String, _ input: String, before events: [HTTPEvent] = [], endOfStream: Bool = false,
        _ error: (InputLocator) -> HTTPParseError
    ) -> ParserVector {
        rejected(
            name, input, configuration: HTTPParserVectors.responseConfiguration, before: events, endOfStream: endOfStream,
            error)
    }
}
