import HTTPParser
import NetLabConformance
import Testing

/// Every vector of the shared specification table, fed whole, one byte at a time, at seeded
/// random split points and pipelined after another message.
@Suite("HTTPMessageParser vectors", .timeLimit(.minutes(3)))
struct ParserVectorTests {
    static let verifier = ParserVerifier { configuration in
        HTTPMessageParser(parsing: configuration.kind, limits: configuration.limits, options: configuration.options)
    }

    @Test("requests that parse", arguments: HTTPParserVectors.requests.map(\.name))
    func request(name: String) { check(HTTPParserVectors.requests, name) }

    @Test("requests that must be rejected", arguments: HTTPParserVectors.requestErrors.map(\.name))
    func requestError(name: String) { check(HTTPParserVectors.requestErrors, name) }

    @Test("responses", arguments: HTTPParserVectors.responses.map(\.name))
    func response(name: String) { check(HTTPParserVectors.responses, name) }

    @Test("named leniencies", arguments: HTTPParserVectors.leniency.map(\.name))
    func leniency(name: String) { check(HTTPParserVectors.leniency, name) }

    private func check(_ table: [ParserVector], _ name: String) {
        let vector = table.first { $0.name == name }!
        for failure in Self.verifier.verify(vector) {
            Issue.record("\(failure)")
        }
    }
}
