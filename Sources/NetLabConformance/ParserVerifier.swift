import HTTPParser
import TCPSocket

/// How a parser under test is configured for one vector.
public struct ParserConfiguration: Hashable, Sendable {
    public var kind: HTTPMessageParser.Kind
    public var limits: HTTPLimits
    public var options: HTTPParserOptions

    public init(kind: HTTPMessageParser.Kind, limits: HTTPLimits = HTTPLimits(), options: HTTPParserOptions = []) {
        self.kind = kind
        self.limits = limits
        self.options = options
    }
}

/// What a parser must produce for a vector: these events, then (optionally) this error.
public struct ParserOutcome: Hashable, Sendable, CustomStringConvertible {
    public var events: [HTTPEvent]
    public var error: HTTPParseError?

    public init(events: [HTTPEvent], error: HTTPParseError? = nil) {
        self.events = HTTPEventRendering.normalized(events)
        self.error = error
    }

    public var description: String {
        var lines = events.enumerated().map { "  \($0.offset + 1). \(HTTPEventRendering.describe($0.element))" }
        if let error { lines.append("  then error: \(error)") }
        return lines.isEmpty ? "  (no events)" : lines.joined(separator: "\n")
    }
}

/// One parser test vector, named like a line of a specification.
public struct ParserVector: Sendable {
    public var name: String
    public var configuration: ParserConfiguration
    public var input: [UInt8]
    /// For response parsing: the methods of the requests the responses answer, in order.
    public var requestMethods: [HTTPMethod]
    /// Whether the peer closes after sending `input` (ends close-delimited bodies).
    public var endOfStream: Bool
    public var expected: ParserOutcome

    public init(
        _ name: String, _ configuration: ParserConfiguration, input: String, requestMethods: [HTTPMethod] = [],
        endOfStream: Bool = false, expect expected: ParserOutcome
    ) {
        self.init(
            name, configuration, bytes: Array(input.utf8), requestMethods: requestMethods, endOfStream: endOfStream,
            expect: expected)
    }

    public init(
        _ name: String, _ configuration: ParserConfiguration, bytes: [UInt8], requestMethods: [HTTPMethod] = [],
        endOfStream: Bool = false, expect expected: ParserOutcome
    ) {
        self.name = name
        self.configuration = configuration
        self.input = bytes
        self.requestMethods = requestMethods
        self.endOfStream = endOfStream
        self.expected = expected
    }
}

/// One way of feeding a vector to a parser: how the bytes arrive.
public enum ParserFeeding: Hashable, Sendable {
    /// All bytes in one `receive`.
    case whole
    /// One `receive` per byte.
    case byteByByte
    /// Cut at these offsets (chosen by `seed`).
    case split(at: [Int], seed: UInt64)
    /// After a complete keep-alive message in the same buffer.
    case pipelined

    /// Byte by byte or split: the message arrives in more than one piece, alone.
    public var arrivesInPieces: Bool {
        switch self {
        case .byteByByte, .split: true
        case .whole, .pipelined: false
        }
    }

    /// "fed one byte at a time", in each language.
    public var described: LabText {
        switch self {
        case .whole: LabText(en: "fed whole", id: "diumpankan utuh")
        case .byteByByte: LabText(en: "fed one byte at a time", id: "diumpankan satu byte demi satu byte")
        case .split(let cuts, let seed): LabText(en: "fed split at \(cuts) (seed \(seed))", id: "diumpankan terpotong di \(cuts) (seed \(seed))")
        case .pipelined: LabText(en: "fed pipelined after another message", id: "diumpankan beruntun setelah pesan lain")
        }
    }
}

/// A mismatch, with everything needed to understand it without opening the test file.
public struct VerificationFailure: Error, Sendable, CustomStringConvertible {
    public var vector: String
    public var feeding: ParserFeeding
    public var input: [UInt8]
    public var expected: ParserOutcome
    public var actual: ParserOutcome

    public var description: String { evidence.en }

    /// The mismatch, labelled in English and in Indonesian (the bytes, events and errors as they are).
    public var evidence: LabText {
        func text(_ language: LabLanguage, input inputLabel: String, expected expectedLabel: String, got: String) -> String {
            var text = """
                ✘ \(vector) — \(feeding.described(language))
                \(inputLabel): \(HTTPEventRendering.escaped(input))
                \(expectedLabel):
                \(expected)
                \(got):
                \(actual)
                """
            let offset = actual.error?.offset ?? expected.error?.offset
            if let offset { text += "\n" + HTTPEventRendering.caret(input, at: offset) }
            return text
        }
        return LabText(en: text(.en, input: "input", expected: "expected", got: "got"),
                       id: text(.id, input: "masukan", expected: "diharapkan", got: "diterima"))
    }
}

/// Runs a parser over a vector in every way input can arrive, and checks that each way gives
/// the expected events and error: whole, one byte at a time, at seeded random split points,
/// and pipelined after another message (which also checks that error offsets count from the
/// start of the stream). Works with any ``HTTPMessageParsing`` type: the reference, or yours.
public struct ParserVerifier<Parser: HTTPMessageParsing>: Sendable {
    public typealias Factory = @Sendable (ParserConfiguration) -> Parser

    let makeParser: Factory
    /// Seed of the random splits; printed with every failure so a run can be replayed.
    public let seed: UInt64
    /// How many random splittings each vector gets.
    public var randomSplits = 16

    public init(seed: UInt64 = 0x4E65_744C_6162, makeParser: @escaping Factory) {
        self.seed = seed
        self.makeParser = makeParser
    }

    /// Every way of feeding `vector`; returns the mismatches (empty when the parser passes).
    public func verify(_ vector: ParserVector) -> [VerificationFailure] {
        var failures: [VerificationFailure] = []
        var random = SplitMix64(seed: seed ^ UInt64(truncatingIfNeeded: vector.name.utf8.reduce(5381) { $0 &* 33 &+ Int($1) }))
        // Whole and byte by byte first: a failure that only splits show says "one receive is not one message".
        var strategies: [(ParserFeeding, [Int])] = [(.whole, []), (.byteByByte, Array(1..<max(vector.input.count, 1)))]
        for _ in 0..<randomSplits where vector.input.count > 1 {
            let cuts = Set((0..<Int.random(in: 1...min(8, vector.input.count - 1), using: &random)).map { _ in
                Int.random(in: 1..<vector.input.count, using: &random)
            }).sorted()
            strategies.append((.split(at: cuts, seed: seed), cuts))
        }
        for (feeding, cuts) in strategies {
            LabAttempt.record(Self.attempt(vector.name, feeding))
            let actual = run(vector, input: vector.input, cuts: cuts, methods: vector.requestMethods)
            if actual != vector.expected {
                failures.append(VerificationFailure(
                    vector: vector.name, feeding: feeding, input: vector.input, expected: vector.expected, actual: actual))
                break  // one failing strategy says enough; whole/byte-by-byte come first
            }
        }
        if failures.isEmpty, let pipelined = pipelined(vector) {
            LabAttempt.record(Self.attempt(vector.name, .pipelined))
            let actual = run(vector, input: pipelined.input, cuts: [], methods: pipelined.methods)
            if actual != pipelined.expected {
                failures.append(VerificationFailure(
                    vector: vector.name, feeding: .pipelined, input: pipelined.input,
                    expected: pipelined.expected, actual: actual))
            }
        }
        return failures
    }

    /// "vector `name`, fed …", for a crash or a hang to be reported with.
    static func attempt(_ vector: String, _ feeding: ParserFeeding) -> LabText {
        let fed = feeding.described
        return LabText(en: "vector \"\(vector)\", \(fed.en)", id: "vektor \"\(vector)\", \(fed.id)")
    }

    /// The vector preceded by a complete, keep-alive message in the same buffer.
    private func pipelined(_ vector: ParserVector) -> (input: [UInt8], methods: [HTTPMethod], expected: ParserOutcome)? {
        let prefix: String
        let prefixEvents: [HTTPEvent]
        let parsed: ParserOutcome
        switch vector.configuration.kind {
        case .requests:
            prefix = "GET /first HTTP/1.1\r\nHost: a\r\n\r\n"
        case .responses:
            prefix = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        }
        var probe = makeParser(vector.configuration)
        probe.receive(Array(prefix.utf8))
        parsed = Self.drain(&probe)
        guard parsed.error == nil else { return nil }
        prefixEvents = parsed.events
        var expected = vector.expected
        expected.events = HTTPEventRendering.normalized(prefixEvents + expected.events)
        if let error = expected.error { expected.error = error.shifted(by: prefix.utf8.count) }
        let methods = vector.configuration.kind == .responses ? [HTTPMethod.get] + vector.requestMethods : []
        return (Array(prefix.utf8) + vector.input, methods, expected)
    }

    /// Feeds `input` cut at `cuts`, then end-of-stream if the vector says so.
    func run(_ vector: ParserVector, input: [UInt8], cuts: [Int], methods: [HTTPMethod]) -> ParserOutcome {
        var parser = makeParser(vector.configuration)
        for method in methods { parser.expectResponse(to: method) }
        var events: [HTTPEvent] = []
        var start = 0
        for end in cuts + [input.count] where end > start || (end == input.count && start == 0) {
            parser.receive(input[start..<end])
            start = end
            let step = Self.drain(&parser)
            events += step.events
            if let error = step.error { return ParserOutcome(events: events, error: error) }
        }
        if vector.endOfStream {
            parser.receiveEndOfStream()
            let step = Self.drain(&parser)
            events += step.events
            if let error = step.error { return ParserOutcome(events: events, error: error) }
        }
        return ParserOutcome(events: events)
    }

    /// Pulls events until the parser needs more input (or fails). Caps the count so a parser
    /// stuck in a loop fails the test instead of hanging it.
    static func drain(_ parser: inout Parser) -> ParserOutcome {
        var events: [HTTPEvent] = []
        do {
            while let event = try parser.nextEvent() {
                events.append(event)
                // No vector has a tenth as many events: a parser past this is going round in
                // circles (returning the same piece without consuming it).
                if events.count > 2_000 {
                    return ParserOutcome(events: Array(events.prefix(12)) + [.trailers(HTTPFields([
                        "NetLab-Verifier": "more than 2000 events: is the parser consuming its input (advancing its position)?",
                    ]))], error: nil)
                }
            }
        } catch {
            return ParserOutcome(events: events, error: error)
        }
        return ParserOutcome(events: events)
    }
}
