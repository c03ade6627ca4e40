// Fuzz target: the response parser, answering a request method picked by the first byte
// (GET, HEAD, CONNECT, POST: bodiless and tunnel rules differ), with and without the peer
// closing after the bytes (close-delimited bodies), fed whole and in pieces.
//
// Invariants: no crash, no hang, and the same outcome however the bytes are cut.
import FuzzSupport
import HTTPParser

func fuzzResponse(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard size > 0, let data else { return 0 }
    let selector = data[0]
    let input = bytes(data + 1, size - 1)
    let methods: [HTTPMethod] = [.get, .head, HTTPMethod("CONNECT"), .post]
    var parser = HTTPMessageParser(parsing: .responses)
    // Up to four requests in flight, each answered in order (pipelining).
    for index in 0..<Int(selector & 3) + 1 {
        parser.expectResponse(to: methods[(Int(selector >> 2) + index) % methods.count])
    }
    let endOfStream = selector & 0x80 != 0
    let whole = ParserRun.feed([input[...]], to: parser, endOfStream: endOfStream)
    let split = ParserRun.feed(SplitPoints.pieces(of: input), to: parser, endOfStream: endOfStream)
    Oracle.require(whole == split, "whole\n\(whole)\nsplit\n\(split)")
    return 0
}
