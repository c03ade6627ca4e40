import Foundation
import HTTPParser
import TCPSocket

/// Lab 2's checks: the specification table (``HTTPParserVectors``) run through the
/// ``ParserVerifier`` — every vector fed whole, one byte at a time, at seeded random splits and
/// pipelined — against any parser behind ``HTTPMessageParsing``.
public enum ParsingLab {
    public static let name = LabText(en: "HTTP parsing: a sans-IO request/response parser", id: "Parsing HTTP: parser permintaan/respons tanpa I/O")

    public static func suite<Parser: HTTPMessageParsing & Sendable>(makeParser: @escaping @Sendable (ParserConfiguration) -> Parser) -> LabSuite {
        let groups: [(String, LabText, [ParserVector])] = [
            ("2.1", LabText(en: "requests that parse: request line, fields, Content-Length and chunked bodies, keep-alive",
                            id: "permintaan yang valid: baris permintaan, field, body Content-Length dan chunked, keep-alive"),
             HTTPParserVectors.requests),
            ("2.2", LabText(en: "requests that must be refused, each with its rule and the offending byte",
                            id: "permintaan yang harus ditolak, masing-masing dengan aturannya dan byte penyebabnya"),
             HTTPParserVectors.requestErrors),
            ("2.3", LabText(en: "responses: status line, bodies by Content-Length, chunked, until close; HEAD and 1xx",
                            id: "respons: baris status, body menurut Content-Length, chunked, sampai koneksi ditutup; HEAD dan 1xx"),
             HTTPParserVectors.responses),
            ("2.4", LabText(en: "the two documented leniencies, only when asked for", id: "dua kelonggaran yang terdokumentasi, hanya bila diminta"),
             HTTPParserVectors.leniency),
        ]
        var steps = groups.map { id, title, vectors in
            LabStep(id, title) {
                try await offPool { try check(vectors, against: makeParser) }
            }
        }
        steps.append(LabStep("2.5", LabText(en: "200 random messages (seeded) parse exactly as the reference parses them, at random splits and pipelined",
                                            id: "200 pesan acak (dengan seed) diurai persis seperti acuan mengurainya, dipotong acak dan pipelined")) {
            try await offPool { try differential(Self.randomMessages(count: 200, seed: 0x4C61_6232), against: makeParser, what: LabText(en: "random messages", id: "pesan acak")) }
        })
        var notes: [LabText] = []
        if let corpus = LLHTTPCorpusCases.load() {
            steps.append(LabStep("2.6", LabText(en: "llhttp's \(corpus.count) strict test cases (Node.js's parser): same outcome as the reference",
                                                id: "\(corpus.count) kasus uji strict milik llhttp (parser Node.js): hasilnya sama dengan acuan")) {
                try await offPool { try differential(corpus, against: makeParser, what: LabText(en: "llhttp cases", id: "kasus llhttp")) }
            })
        } else {
            notes.append(LabText(en: "2.6 (llhttp's corpus) skipped: \(LLHTTPCorpusCases.path) cannot be read",
                                 id: "2.6 (korpus llhttp) dilewati: \(LLHTTPCorpusCases.path) tidak bisa dibaca"))
        }
        return LabSuite(number: 2, name: name, steps: steps, notes: notes)
    }

    /// Parsing is CPU work without a suspension point: it runs on a thread of its own, so the
    /// cooperative pool (where servers' handlers and clients run) is never held for seconds.
    static func offPool(_ body: @escaping @Sendable () throws -> Void) async throws {
        try await runBlocking(limit: .seconds(120), what: LabText(en: "the parser", id: "parser")) { try body() }
    }

    /// The table's vectors, every way of feeding them.
    static func check<Parser: HTTPMessageParsing & Sendable>(_ vectors: [ParserVector],
                                                             against makeParser: @escaping @Sendable (ParserConfiguration) -> Parser) throws {
        let verifier = ParserVerifier(makeParser: makeParser)
        var failing: [VerificationFailure] = []
        for vector in vectors { failing += verifier.verify(vector) }
        guard !failing.isEmpty else { return }
        throw failure(failing, of: vectors.count, what: LabText(en: "vectors", id: "vektor"))
    }

    /// Every failing input by name and how it was fed, the first one's evidence, and the hint
    /// its pattern points to.
    static func failure(_ failing: [VerificationFailure], of total: Int, more: Bool = false, what: LabText) -> LabFailure {
        let count = "\(failing.count)\(more ? "+" : "")"
        func list(_ language: LabLanguage) -> String {
            failing.map { "  ✘ \($0.vector) — \($0.feeding.described(language))" }.joined(separator: "\n")
        }
        let first = failing[0].evidence
        return LabFailure(
            LabText(en: "\(count) of \(total) \(what.en) fail:\n" + list(.en) + "\nthe first one:",
                    id: "\(count) dari \(total) \(what.id) gagal:\n" + list(.id) + "\nyang pertama:"),
            evidence: first, hint: hint(for: failing.map(\.feeding)))
    }

    /// What the pattern of failures says about the parser (each vector reports its first failing
    /// feeding, tried in the order whole, byte by byte, random splits, pipelined).
    static func hint(for feedings: [ParserFeeding]) -> LabText {
        if feedings.allSatisfy({ $0 == .pipelined }) {
            return LabText(en: "each passes alone and fails after another message: after one message ends, the next starts at the following byte of the same buffer — keep it, and count error offsets from the start of the stream",
                           id: "masing-masing lulus sendirian dan gagal setelah pesan lain: setelah satu pesan selesai, pesan berikutnya mulai di byte sesudahnya dalam buffer yang sama — simpan, dan hitung offset error dari awal stream")
        }
        if feedings.allSatisfy(\.arrivesInPieces) {
            return LabText(en: "they pass fed whole and fail when the bytes arrive in pieces: you assume one receive holds a whole message — keep what you cannot parse yet and return nil until more arrives",
                           id: "semuanya lulus bila diumpankan utuh dan gagal bila byte datang sepotong-sepotong: Anda menganggap satu receive berisi satu pesan utuh — simpan yang belum bisa diurai dan kembalikan nil sampai byte berikutnya datang")
        }
        return LabText(en: "the vector's name is the rule (the RFC 9112 section is in the error); fix the first, run again",
                       id: "nama vektor adalah aturannya (bagian RFC 9112 ada di error); perbaiki yang pertama, jalankan lagi")
    }

    /// Checks a parser against the reference on inputs whose expected outcome is whatever the
    /// reference produces (its own correctness is pinned by the vector table and its tests).
    static func differential<Parser: HTTPMessageParsing & Sendable>(
        _ inputs: [(name: String, kind: HTTPMessageParser.Kind, bytes: [UInt8], endOfStream: Bool)],
        against makeParser: @escaping @Sendable (ParserConfiguration) -> Parser, what: LabText
    ) throws {
        let reference = ParserVerifier { HTTPMessageParser(parsing: $0.kind, limits: $0.limits, options: $0.options) }
        var verifier = ParserVerifier(makeParser: makeParser)
        verifier.randomSplits = 4
        var failing: [VerificationFailure] = []
        for input in inputs {
            var vector = ParserVector(input.name, ParserConfiguration(kind: input.kind), bytes: input.bytes, endOfStream: input.endOfStream,
                                      expect: ParserOutcome(events: []))
            // The reference's outcome, fed whole (its own tests prove it the same however fed).
            vector.expected = reference.run(vector, input: input.bytes, cuts: [], methods: [])
            failing += verifier.verify(vector)
            if failing.count > 20 { break }
        }
        guard !failing.isEmpty else { return }
        var failure = failure(Array(failing.prefix(20)), of: inputs.count, more: failing.count > 20, what: what)
        if failing.contains(where: { $0.feeding == .whole }) {
            failure.hint = LabText(en: "steps 2.1–2.4 name the rules one by one; pass them first", id: "langkah 2.1–2.4 menyebut aturannya satu per satu; luluskan itu dulu")
        }
        throw failure
    }

    /// Valid requests and responses, built from a seed: methods, targets, fields, bodies by
    /// Content-Length and chunked, one to three messages in a row.
    static func randomMessages(count: Int, seed: UInt64) -> [(name: String, kind: HTTPMessageParser.Kind, bytes: [UInt8], endOfStream: Bool)] {
        var random = SplitMix64(seed: seed)
        func token(_ length: ClosedRange<Int>) -> String {
            let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789-")
            return String((0..<Int.random(in: length, using: &random)).map { _ in alphabet.randomElement(using: &random)! })
        }
        func message(request: Bool) -> String {
            var text = request
                ? "\(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"].randomElement(using: &random)!) /\(token(0...8))/\(token(0...8)) HTTP/1.1\r\nHost: \(token(1...10))\r\n"
                : "HTTP/1.1 \([200, 201, 202, 400, 404, 500].randomElement(using: &random)!) \(["OK", "Created", "Whatever", ""].randomElement(using: &random)!)\r\n"
            for _ in 0..<Int.random(in: 0...5, using: &random) { text += "X-\(token(1...12)): \(token(0...30))\r\n" }
            let body = token(0...120)
            if Bool.random(using: &random) {
                text += "Content-Length: \(body.utf8.count)\r\n\r\n" + body
            } else {
                text += "Transfer-Encoding: chunked\r\n\r\n"
                var rest = Substring(body)
                while !rest.isEmpty {
                    let size = min(rest.count, Int.random(in: 1...40, using: &random))
                    text += String(size, radix: 16) + "\r\n" + rest.prefix(size) + "\r\n"
                    rest = rest.dropFirst(size)
                }
                text += "0\r\n\r\n"
            }
            return text
        }
        return (0..<count).map { n in
            let request = n % 2 == 0
            let text = (0..<Int.random(in: 1...3, using: &random)).map { _ in message(request: request) }.joined()
            return ("random \(request ? "request" : "response") #\(n) (seed \(seed))", request ? .requests : .responses, Array(text.utf8), false)
        }
    }
}

/// llhttp's test cases as raw inputs: `llhttp/cases.jsonl`, shipped with this module (MIT; the
/// licence and the data's origin are beside it). The one place that knows where the corpus
/// lives (NetLab's own llhttp test reads it from here too).
public enum LLHTTPCorpusCases {
    /// `$NETLAB_LLHTTP_CORPUS`, else the copy in this module's resources.
    public static let path: String = {
        if let override = ProcessInfo.processInfo.environment["NETLAB_LLHTTP_CORPUS"] { return override }
        return Bundle.module.url(forResource: "cases", withExtension: "jsonl", subdirectory: "llhttp")?.path ?? "llhttp/cases.jsonl"
    }()

    struct Case: Decodable {
        var file: String
        var line: Int
        var name: String
        var kind: String
        var mode: String
        var finish: Bool
        var input_b64: String
    }

    static func load() -> [(name: String, kind: HTTPMessageParser.Kind, bytes: [UInt8], endOfStream: Bool)]? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let decoder = JSONDecoder()
        return text.split(separator: "\n").compactMap { line in
            guard let c = try? decoder.decode(Case.self, from: Data(line.utf8)), c.mode == "strict",
                let bytes = Data(base64Encoded: c.input_b64), c.kind == "request" || c.kind == "response"
            else { return nil }
            return ("llhttp \(c.file):\(c.line) \(c.name)", c.kind == "request" ? .requests : .responses, Array(bytes), c.finish)
        }
    }
}
