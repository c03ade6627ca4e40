// Fuzz target: the request parser, fed whole, in pieces and a byte at a time.
//
// Invariants: no crash, no hang (bounded events), and the same events and error however the
// bytes are cut — a parser whose verdict depends on TCP's segment boundaries is a smuggling bug.
import FuzzSupport
import HTTPParser

func fuzzRequest(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    for options in [HTTPParserOptions(), [.allowBareLF, .allowObsoleteLineFolding]] {
        let parser = HTTPMessageParser(parsing: .requests, options: options)
        let whole = ParserRun.feed([input[...]], to: parser, endOfStream: true)
        let split = ParserRun.feed(SplitPoints.pieces(of: input), to: parser, endOfStream: true)
        Oracle.require(whole == split, "options \(options.rawValue): whole\n\(whole)\nsplit\n\(split)")
        if input.count <= 512 {
            let single = ParserRun.feed(input.indices.map { input[$0...$0] }, to: parser, endOfStream: true)
            Oracle.require(whole == single, "options \(options.rawValue): whole\n\(whole)\nbyte by byte\n\(single)")
        }
    }
    return 0
}
