// Fuzz target: the chunked-body scanner (RFC 9112 §7.1): the input is the body of a request
// whose head says `Transfer-Encoding: chunked`, then a second request on the same connection.
//
// Invariants: no crash or hang; the same outcome however the bytes are cut; a body the parser
// accepts is exactly the chunk data (never more bytes than the input had), and after the last
// chunk the next request is read as a request — never smuggled inside the body.
import FuzzSupport
import HTTPParser

private let head = Array("POST /pay HTTP/1.1\r\nHost: gateway.test\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
private let next = Array("GET /next HTTP/1.1\r\nHost: gateway.test\r\n\r\n".utf8)

func fuzzChunked(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let body = bytes(data, size)
    let input = head + body + next
    let parser = HTTPMessageParser(parsing: .requests)
    let whole = ParserRun.feed([input[...]], to: parser)
    let split = ParserRun.feed(SplitPoints.pieces(of: input), to: parser)
    Oracle.require(whole == split, "whole\n\(whole)\nsplit\n\(split)")
    if let first = whole.messages.first {
        Oracle.require(first.body.count <= body.count, "a body of \(first.body.count) bytes from \(body.count) input bytes")
    }
    return 0
}
