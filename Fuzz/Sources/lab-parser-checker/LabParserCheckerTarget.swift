// Fuzz target: lab 2's checker reading a student's parser. The checker (ParserVerifier) must
// judge any parser — one that returns nonsense, throws at random, or never stops returning
// events — and never crash or hang on what the parser hands it.
//
// The input picks a vector of the specification table (first byte) and scripts the hostile
// parser's answers (the rest). Invariants: `verify` returns; a parser whose script is not
// exactly the expected outcome is failed.
import FuzzSupport
import HTTPParser
@testable import NetLabConformance

/// A parser that ignores its input and plays a script: each byte is one answer of `nextEvent`.
struct ScriptedParser: HTTPMessageParsing {
    let script: [UInt8]
    var position = 0

    mutating func receive(_ bytes: some Collection<UInt8>) {}
    mutating func receiveEndOfStream() {}
    mutating func expectResponse(to method: HTTPMethod) {}

    mutating func nextEvent() throws(HTTPParseError) -> HTTPEvent? {
        guard position < script.count else { return nil }
        let byte = script[position]
        // 0xF0 and up: the same event forever (a parser that never consumes its input).
        if byte < 0xF0 { position += 1 }
        switch byte % 9 {
        case 0: return .requestHead(HTTPRequestHead(method: .get, target: "/\(byte)"))
        case 1: return .responseHead(HTTPResponseHead(status: 100 + Int(byte)))
        case 2: return .body(ArraySlice(script[position..<min(script.count, position + Int(byte % 7))]))
        case 3: return .trailers(HTTPFields())
        case 4, 5: return .endOfMessage
        case 6: return .upgrade(remaining: [byte])
        case 7:
            var real = HTTPMessageParser(parsing: .requests)
            real.receive([0x00, byte])
            _ = try real.nextEvent()
            return nil
        default: return nil
        }
    }
}

func fuzzLabParserChecker(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    guard let first = input.first else { return 0 }
    let vectors = HTTPParserVectors.all
    let vector = vectors[Int(first) % vectors.count]
    let script = Array(input.dropFirst())
    var verifier = ParserVerifier { _ in ScriptedParser(script: script) }
    verifier.randomSplits = 2
    let failures = verifier.verify(vector)
    // What the script says when drained once, as the checker would see it fed whole.
    var probe = ScriptedParser(script: script)
    let said = ParserVerifier<ScriptedParser>.drain(&probe)
    let loops = script.contains { $0 >= 0xF0 }
    if !loops, probe.position == script.count, said != vector.expected {
        Oracle.require(!failures.isEmpty, "a parser that answers\n\(said)\npassed vector \(vector.name)")
    }
    return 0
}
