import Foundation
import HTTPParser
import NetLabDemo
import Testing

/// The smuggling story decides on the shop's parser alone: NetLab's refuses Content-Length with
/// Transfer-Encoding and nothing leaks; a parser that lets Transfer-Encoding win (the mistake
/// lab 2's CL.TE vector names) hands a customer's order to the attacker, visibly.
@Suite("The smuggling story", .serialized, .timeLimit(.minutes(3)))
struct SmugglingTests {
    /// NetLab's parser behind a filter that drops `Content-Length` from bytes that also say
    /// `Transfer-Encoding: chunked`: a request parser that lets chunked win without refusing the
    /// pair or closing afterwards. (A test double: it looks at each piece as it arrives, which is
    /// enough for the story, whose ambiguous request reaches the shop in one piece.)
    struct TransferEncodingWins: HTTPMessageParsing {
        var inner: HTTPMessageParser
        let filters: Bool

        init(kind: HTTPMessageParser.Kind, limits: HTTPLimits) {
            inner = HTTPMessageParser(parsing: kind, limits: limits)
            filters = kind == .requests
        }

        mutating func receive(_ bytes: some Collection<UInt8>) {
            let text = String(decoding: bytes, as: UTF8.self)
            guard filters, text.lowercased().contains("transfer-encoding: chunked") else { return inner.receive(bytes) }
            inner.receive(Array(text.replacingOccurrences(of: #"(?i)content-length: *\d+\r\n"#, with: "", options: .regularExpression).utf8))
        }

        mutating func receiveEndOfStream() { inner.receiveEndOfStream() }
        mutating func expectResponse(to method: HTTPMethod) { inner.expectResponse(to: method) }
        mutating func nextEvent() throws(HTTPParseError) -> HTTPEvent? { try inner.nextEvent() }
        var bufferedByteCount: Int { inner.bufferedByteCount }
    }

    static func play(_ parser: HTTPParserFactory?) async -> (DemoResult, [DemoStep]) {
        var options = DemoOptions(scenario: .smuggling)
        options.httpParser = parser
        let recorder = DemoRecorder()
        let result = await DemoRunner.run(options, recorder: recorder)
        return (result, recorder.steps)
    }

    @Test("with NetLab's parser the shop refuses the ambiguous request: every client gets its own answer")
    func refused() async {
        let (result, steps) = await Self.play(nil)
        #expect(result.succeeded, "\(result.summary)")
        #expect(steps.last?.outcome == "refused")
        #expect(steps.contains { $0.details.contains { $0.contains("The attacker gets: HTTP/1.1 400") } })
    }

    @Test("with a parser that lets Transfer-Encoding win, the attacker reads the customer's order and its virtual account")
    func smuggled() async throws {
        let (result, steps) = await Self.play { kind, limits in TransferEncodingWins(kind: kind, limits: limits) }
        #expect(!result.succeeded && result.summary.contains("the attacker read order"), "\(result.summary)")
        let order = try #require(steps.first { $0.title.hasPrefix("A customer ordered batik") }?.title)
        let loot = try #require(steps.first { $0.outcome == "smuggled" && $0.kind == .note && $0.title.hasPrefix("3.") })
        #expect(loot.details.joined().contains("the customer's order, with its virtual account"), "\(loot.details)")
        #expect(steps.contains { $0.details.contains { $0.contains("an answer meant for someone else") } }, "the customer got a stranger's answer")
        #expect(order.contains("ORDER-"))
    }
}
