import Foundation
import NetLabDemo
import Testing

/// docs/WALKTHROUGH.md quotes the card-accept story's steps by number: the story is the same on
/// every run (each webhook has its place), and every step the walkthrough quotes is the real
/// step of that number.
@Suite("The walkthrough's story", .serialized, .timeLimit(.minutes(3)))
struct WalkthroughTests {
    static let walkthrough = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/WALKTHROUGH.md")

    static func play() async -> [DemoStep] {
        let recorder = DemoRecorder()
        let result = await DemoRunner.run(DemoOptions(scenario: .cardAccept), recorder: recorder)
        #expect(result.succeeded, "\(result.summary)")
        return recorder.steps
    }

    /// What changes from run to run by design (ports, order and transaction ids) made equal.
    static func normalized(_ text: String) -> String {
        var text = text
        for (pattern, placeholder) in [(#"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"#, "UUID"),
                                       (#"ORDER-\d+-[0-9a-f]+"#, "ORDER"), (#"3ds-\d+-[0-9a-f]+"#, "3DS"),
                                       (#"127\.0\.0\.1:\d+"#, "ADDRESS")] {
            text = text.replacingOccurrences(of: pattern, with: placeholder, options: .regularExpression)
        }
        return text
    }

    static func header(_ step: DemoStep) -> String {
        "\(step.number) · \(step.layer.rawValue.uppercased()) · " + (step.to.map { "\(step.from) → \($0)" } ?? step.from)
    }

    @Test("card-accept tells the same story five times: the same steps, in the same order, numbered the same")
    func sameStoryEveryTime() async {
        func shape(_ steps: [DemoStep]) -> [String] {
            steps.map { "\(Self.header($0)) \($0.kind.rawValue) [\($0.outcome ?? "")] \(Self.normalized($0.title))" }
        }
        let first = shape(await Self.play())
        for run in 2...5 {
            let again = shape(await Self.play())
            #expect(again == first, "run \(run) differs: \(zip(first, again).first { $0 != $1 }.map { "\($0.0) ≠ \($0.1)" } ?? "in length: \(first.count) vs \(again.count)")")
        }
    }

    @Test("every step docs/WALKTHROUGH.md quotes from card-accept is the real step of that number")
    func quotesAreTheRealSteps() async throws {
        let text = try String(contentsOf: Self.walkthrough, encoding: .utf8)
        // The card-accept story; the sections after it quote other scenarios.
        let story = text.components(separatedBy: "## What an eavesdropper sees")[0].split(separator: "\n", omittingEmptySubsequences: false)
        var quotes: [(header: String, title: String)] = []
        for (index, line) in story.enumerated() where line.hasPrefix("── ") && index + 1 < story.count {
            let header = line.dropFirst(3).replacingOccurrences(of: #"\s*─+$"#, with: "", options: .regularExpression)
            quotes.append((header, String(story[index + 1])))
        }
        #expect(quotes.count >= 12, "the walkthrough quotes \(quotes.count) steps")
        let steps = await Self.play()
        for quote in quotes {
            guard let number = Int(quote.header.prefix { $0.isNumber }), number >= 1, number <= steps.count else {
                Issue.record("the walkthrough quotes step \(quote.header), the story has \(steps.count)")
                continue
            }
            let step = steps[number - 1]
            #expect(Self.header(step) == quote.header, "step \(number) is \(Self.header(step)), the walkthrough says \(quote.header)")
            let quoted = Self.normalized(String(quote.title.hasSuffix("…") ? quote.title.dropLast() : Substring(quote.title)))
            #expect(Self.normalized(step.title).hasPrefix(quoted), "step \(number)'s title is \"\(step.title)\", the walkthrough says \"\(quote.title)\"")
        }
    }

    @Test("the first answer on a TLS 1.3 connection is told apart from the two session tickets that came with it")
    func sessionTicketsNamed() async throws {
        let steps = await Self.play()
        let token = try #require(steps.first { $0.kind == .httpResponse && $0.from == "gateway" && $0.to == "customer" })
        #expect(token.wire?.sessionTickets == 2, "OpenSSL's server sends two tickets after the handshake")
        #expect(token.details.contains { $0.hasPrefix("2 of these record(s) are the server's TLS 1.3 session tickets") }, "\(token.details)")
        let wiretap = DemoText.wiretap(token, style: DemoStyle(colour: false, width: 200))
        #expect(wiretap.components(separatedBy: "a TLS 1.3 session ticket (NewSessionTicket inside").count == 3, "\(wiretap)")
        // The next answer on the same connection carries none.
        let later = try #require(steps.last { $0.kind == .httpResponse && $0.from == "gateway" && $0.to == "customer" })
        #expect(later.number != token.number && later.wire?.sessionTickets == 0)
    }
}
