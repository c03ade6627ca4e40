import Foundation
import HTTPParser
import NetLabConformance
import Testing

/// llhttp's own test suite (the parser inside Node.js and SwiftNIO), as data: every strict-mode
/// case, fed whole, one byte at a time and at random splits. The cases are read from the
/// shared corpus beside the repository (or `NETLAB_LLHTTP_CORPUS`); nothing is copied in.
/// Where NetLab deliberately parts from llhttp, the case is listed in `deliberateDifferences`
/// with the reason, the test checks that it really differs, and docs/HTTP-PARSER.md explains.
@Suite("llhttp corpus", .enabled(if: LLHTTPCorpus.cases != nil, "llhttp corpus not found: \(LLHTTPCorpus.path)"), .timeLimit(.minutes(3)))
struct LLHTTPCorpusTests {
    @Test("strict cases agree with llhttp, except the documented differences")
    func strictCases() throws {
        let cases = try #require(LLHTTPCorpus.cases).filter { $0.mode == "strict" }
        var agreed = 0
        var differed: [String: String] = [:]
        for testCase in cases {
            let verdict = LLHTTPCorpus.check(testCase)
            if let reason = LLHTTPCorpus.deliberateDifferences[testCase.id] {
                #expect(verdict != nil, "\(testCase.id) (\(testCase.name)) is listed as a difference (\(reason)) but agrees now")
                continue
            }
            if let verdict {
                differed[testCase.id] = verdict
            } else {
                agreed += 1
            }
        }
        for (id, verdict) in differed.sorted(by: { $0.key < $1.key }) {
            Issue.record("\(id): \(verdict)")
        }
        let listed = LLHTTPCorpus.deliberateDifferences.count
        print("llhttp corpus: \(agreed) of \(cases.count) strict cases agree, \(listed) documented differences")
        #expect(agreed + listed == cases.count)
    }
}

/// One llhttp case (see the corpus README for the fields).
struct LLHTTPCase: Decodable {
    struct Message: Decodable {
        var method: String?
        var url: String?
        var version: String?
        var status: String?
        var status_code: Int?
        var headers: [[String]]
        var trailers: [[String]]
        var body: String
        var complete: Bool
    }
    struct Failure: Decodable {
        var name: String
        var offset: Int
    }
    struct Meta: Decodable {
        var noScan: Bool?
        var skipBody: Bool?
    }

    var name: String
    var file: String
    var line: Int
    var kind: String
    var mode: String
    var finish: Bool
    var meta: Meta
    var input_b64: String
    var outcome: String
    var error: Failure?
    var tags: [String]
    var expect: String
    var messages: [Message]

    var id: String { "\(file):\(line)" }
    var input: [UInt8] { Array(Data(base64Encoded: input_b64) ?? Data()) }
}

enum LLHTTPCorpus {
    static let path = LLHTTPCorpusCases.path

    static let cases: [LLHTTPCase]? = {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let decoder = JSONDecoder()
        return text.split(separator: "\n").compactMap { try? decoder.decode(LLHTTPCase.self, from: Data($0.utf8)) }
    }()

    /// Cases where NetLab's strict RFC 9112 reading differs from llhttp's on purpose.
    /// docs/HTTP-PARSER.md has the same list with more words.
    static let deliberateDifferences: [String: String] = {
        let anyToken = "any token is a method (RFC 9110 §9.1); llhttp accepts only its fixed method list"
        let httpOnly = "RTSP and ICE are other protocols; NetLab speaks HTTP (HTTP-name is \"HTTP\", RFC 9112 §2.3)"
        let noHTTP09 = "HTTP/0.9 is not part of RFC 9112; NetLab rejects it (400 for a request, 505 for a response)"
        let codings = "a request transfer coding NetLab cannot decode (deflate) gets 501, as RFC 9112 §6.1 says a server SHOULD; llhttp removes chunked and leaves deflate to its caller"
        return [
            "request/method.md:96": "a CONNECT request has no content (RFC 9110 §9.3.6): llhttp ignores its Content-Length and tunnels, NetLab refuses the request, since a reader that honours the length would disagree where the tunnel starts",
            "request/content-length.md:444": "llhttp's skip-body callback declares a request bodiless; NetLab's requests always follow their framing",
            "request/uri.md:222": "userinfo in an http(s) target: a sender MUST NOT generate it and a recipient SHOULD treat it as an error (RFC 9110 §4.2.4); llhttp accepts it",
            "request/invalid.md:356": anyToken,
            "request/invalid.md:66": anyToken + " (ANNOUNCE is tied to RTSP there)",
            "request/method.md:372": httpOnly,
            "request/method.md:400": httpOnly,
            "request/method.md:430": httpOnly,
            "response/sample.md:40": httpOnly,
            "response/sample.md:60": httpOnly,
            "request/method.md:458": "PRI is an ordinary method to an HTTP/1.1 parser (the real HTTP/2 preface says HTTP/2.0 and gets 505); the SM line after it is not a request",
            "request/sample.md:314": noHTTP09,
            "response/sample.md:645": noHTTP09,
            "request/transfer-encoding.md:751": codings,
            "request/transfer-encoding.md:793": codings,
            "response/transfer-encoding.md:4": "RFC 9112 §7.1.1 allows whitespace before a chunk extension, so \"25  \" is invalid only when the CR arrives: NetLab rejects at that CR, one byte after llhttp",
        ]
    }()

    /// What the parser produced, reduced to what the corpus records.
    struct Observed: Equatable {
        var messages: [LLHTTPCase.Message] = []
        var error: HTTPParseError?
        var upgradeRemaining: [UInt8]?
    }

    /// nil when NetLab agrees with llhttp on `testCase` under every feeding; else why not.
    static func check(_ testCase: LLHTTPCase) -> String? {
        let input = testCase.input
        var feedings: [(String, [Int])] = [("whole", [])]
        if testCase.meta.noScan != true {
            feedings.append(("one byte at a time", Array(1..<max(1, input.count))))
            var random = SystemRandomNumberGenerator()
            for _ in 0..<4 where input.count > 2 {
                feedings.append(("random split", Set((0..<3).map { _ in Int.random(in: 1..<input.count, using: &random) }).sorted()))
            }
        }
        for (how, cuts) in feedings {
            let observed = run(testCase, input: input, cuts: cuts)
            if let problem = compare(testCase, observed) { return "\(problem) (fed \(how))" }
        }
        return nil
    }

    static func run(_ testCase: LLHTTPCase, input: [UInt8], cuts: [Int]) -> Observed {
        var parser = HTTPMessageParser(parsing: testCase.kind == "request" ? .requests : .responses)
        // skipBody: llhttp's callback declares every response bodiless, as a response to HEAD is.
        if testCase.meta.skipBody == true { for _ in 0..<8 { parser.expectResponse(to: .head) } }
        var observed = Observed()
        var current: LLHTTPCase.Message?
        var start = 0
        func drain() -> Bool {
            do {
                while let event = try parser.nextEvent() {
                    switch event {
                    case .requestHead(let head):
                        current = LLHTTPCase.Message(
                            method: head.method.rawValue, url: head.target, version: "\(head.version.major).\(head.version.minor)",
                            status: nil, status_code: nil, headers: head.fields.map { [$0.name, $0.value] }, trailers: [],
                            body: "", complete: false)
                    case .responseHead(let head):
                        current = LLHTTPCase.Message(
                            method: nil, url: nil, version: "\(head.version.major).\(head.version.minor)", status: head.reason,
                            status_code: head.status, headers: head.fields.map { [$0.name, $0.value] }, trailers: [], body: "",
                            complete: false)
                    case .body(let bytes):
                        current?.body += String(decoding: bytes, as: UTF8.self)
                    case .trailers(let fields):
                        current?.trailers = fields.map { [$0.name, $0.value] }
                    case .endOfMessage:
                        current?.complete = true
                        if let done = current { observed.messages.append(done) }
                        current = nil
                    case .upgrade(let remaining):
                        observed.upgradeRemaining = (observed.upgradeRemaining ?? []) + remaining
                    }
                }
                return true
            } catch {
                observed.error = error
                return false
            }
        }
        for end in cuts + [input.count] {
            parser.receive(input[start..<end])
            start = end
            if !drain() { break }
        }
        if observed.error == nil && testCase.finish {
            parser.receiveEndOfStream()
            _ = drain()
        }
        if let partial = current { observed.messages.append(partial) }
        return observed
    }

    static func compare(_ testCase: LLHTTPCase, _ observed: Observed) -> String? {
        var expected = testCase.messages.filter(\.complete)
        let got = observed.messages.filter(\.complete)
        // `finish` cases end with llhttp_finish(): finish=2 ("unsafe") is llhttp's word for a
        // stream that ended mid-message, which NetLab reports as incompleteMessage; finish=1
        // ("safe with callback") completes a close-delimited message at the end of the stream.
        if testCase.finish, let verdict = testCase.expect.split(separator: "\n").last?.split(separator: "=").last {
            if verdict == "2" {
                guard case .incompleteMessage? = observed.error else {
                    return "llhttp says finishing here is unsafe; NetLab did not report an incomplete message"
                }
                return nil
            }
            if verdict == "1", var last = testCase.messages.last, !last.complete {
                last.complete = true
                expected.append(last)
            }
        }
        switch testCase.outcome {
        case "ok":
            if let error = observed.error { return "llhttp accepts; NetLab rejects: \(error)" }
        case "error":
            guard let error = observed.error else { return "llhttp rejects (\(testCase.error?.name ?? "?")); NetLab accepts" }
            if let limit = testCase.error?.offset, error.offset > limit {
                return "rejected at byte \(error.offset), after llhttp's \(limit)"
            }
        case "upgrade":
            if let error = observed.error { return "llhttp upgrades; NetLab rejects: \(error)" }
            let offset = testCase.error?.offset ?? 0
            let rest = Array(testCase.input[offset...])
            if observed.upgradeRemaining != rest {
                return "expected an upgrade handing back \(HTTPEventRendering.escaped(rest)), got \(observed.upgradeRemaining.map { HTTPEventRendering.escaped($0) } ?? "none")"
            }
        default:
            return "unknown outcome \(testCase.outcome)"
        }
        guard got.count == expected.count else {
            return "\(got.count) complete messages, llhttp has \(expected.count)"
        }
        for (g, e) in zip(got, expected) where !same(g, e) {
            return "message differs: got \(g), llhttp \(e)"
        }
        return nil
    }

    static func same(_ a: LLHTTPCase.Message, _ b: LLHTTPCase.Message) -> Bool {
        func trimmed(_ fields: [[String]]) -> [[String]] {
            fields.map { [$0[0], String($0[1].reversed().drop { $0 == " " || $0 == "\t" }.reversed())] }
        }
        return a.method == b.method && a.url == b.url && a.version == b.version && a.status_code == b.status_code
            && (a.status ?? "") == (b.status ?? "") && trimmed(a.headers) == trimmed(b.headers)
            && trimmed(a.trailers) == trimmed(b.trailers) && a.body == b.body
    }
}

extension LLHTTPCase.Message: Equatable {}
