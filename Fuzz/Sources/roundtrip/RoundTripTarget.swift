// Fuzz target: parse ∘ serialize = identity on what the parser accepts.
//
// Every complete request the parser reads is written again by HTTPSerializer and parsed
// again: the head (method, target, version, fields, framing) and the body must come back
// the same, and the serializer must be able to write whatever the parser accepted.
import FuzzSupport
import HTTPParser

func fuzzRoundTrip(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    let first = ParserRun.feed([input[...]], to: HTTPMessageParser(parsing: .requests))
    for message in first.messages {
        guard case .requestHead(let head) = message.head else { continue }
        let wire: [UInt8]
        do {
            wire = try HTTPSerializer.request(head, body: message.body)
        } catch {
            Oracle.require(false, "the parser accepted a request the serializer refuses (\(error)): \(head)")
            return 0
        }
        let again = ParserRun.feed([wire[...]], to: HTTPMessageParser(parsing: .requests))
        Oracle.require(again.error == nil, "the serializer wrote what the parser refuses: \(again)")
        Oracle.require(again.messages.count == 1, "one request written, \(again.messages.count) read back:\n\(again)")
        guard let back = again.messages.first, case .requestHead(let headBack) = back.head else { continue }
        Oracle.require(headBack == head, "head changed:\n\(head)\n→\n\(headBack)")
        Oracle.require(back.body == message.body, "body changed: \(message.body.count) → \(back.body.count) bytes")
    }
    return 0
}
