import Foundation
import NetLabDemo
import Testing

/// Every scenario of `netlab demo`, run as the demo runs it (all actors in this process over
/// HTTPS on loopback), with its story asserted from the recorded steps: the expected steps
/// happen, in this order (other steps may come between them), with the expected outcomes.
@Suite("netlab demo scenarios", .serialized, .timeLimit(.minutes(5)))
struct ScenarioTests {
    /// One expected step: its kind and, when given, its actor, receiver, outcome (prefix) and
    /// a piece of its title.
    struct Expect: CustomStringConvertible, Sendable {
        var kind: String
        var from: String? = nil
        var to: String? = nil
        var outcome: String? = nil
        var title: String? = nil

        func matches(_ step: DemoStep) -> Bool {
            step.kind == kind && (from == nil || step.from == from) && (to == nil || step.to == to)
                && (outcome == nil || (step.outcome ?? "").hasPrefix(outcome!)) && (title == nil || step.title.contains(title!))
        }

        var description: String {
            [kind, from.map { "from \($0)" }, to.map { "to \($0)" }, outcome.map { "outcome \($0)" }, title.map { "title ~ \($0)" }]
                .compactMap { $0 }.joined(separator: ", ")
        }
    }

    /// The stories, as specifications: scenario → the steps that must happen, in order.
    static let stories: [(DemoScenario, [Expect])] = [
        (.cardAccept, [
            Expect(kind: "tcp.connect", from: "customer", to: "gateway"),
            Expect(kind: "tls.handshake", from: "customer", to: "gateway", outcome: "verified"),
            Expect(kind: "http.request", from: "customer", to: "gateway", title: "GET /v2/token"),
            Expect(kind: "http.request", from: "customer", to: "merchant", title: "POST /orders"),
            Expect(kind: "http.request", from: "merchant", to: "gateway", title: "POST /v2/charge"),
            Expect(kind: "payment.fraud", outcome: "accept"),
            Expect(kind: "payment.bank", outcome: "3-D Secure required"),
            Expect(kind: "payment.gateway", outcome: "pending"),
            Expect(kind: "http.request", from: "customer", to: "gateway", title: "POST /v2/3ds/"),
            Expect(kind: "payment.bank", outcome: "card approved"),
            Expect(kind: "payment.gateway", outcome: "capture"),
            Expect(kind: "payment.order", outcome: "paid"),
            Expect(kind: "note", outcome: "paid"),
        ]),
        (.cardDeny, [
            Expect(kind: "payment.fraud", outcome: "accept"),
            Expect(kind: "payment.bank", outcome: "card declined"),
            Expect(kind: "payment.gateway", outcome: "deny"),
            Expect(kind: "payment.order", outcome: "denied"),
            Expect(kind: "note", outcome: "denied"),
        ]),
        (.fraudChallenge, [
            Expect(kind: "payment.fraud", outcome: "challenge"),
            Expect(kind: "payment.gateway", outcome: "capture"),
            Expect(kind: "payment.order", outcome: "awaiting_review"),
            Expect(kind: "http.request", from: "merchant", to: "gateway", title: "/approve"),
            Expect(kind: "payment.order", outcome: "paid"),
            Expect(kind: "note", outcome: "paid"),
        ]),
        (.vaTransfer, [
            Expect(kind: "payment.bank", outcome: "virtual account"),
            Expect(kind: "payment.gateway", outcome: "pending"),
            Expect(kind: "http.request", from: "customer", to: "bank", title: "/pay"),
            Expect(kind: "http.request", from: "bank", to: "gateway", title: "POST /bank/v1/payments"),
            Expect(kind: "payment.gateway", outcome: "settlement"),
            Expect(kind: "http.request", from: "notification", to: "merchant", title: "POST /notifications"),
            Expect(kind: "payment.webhook", from: "merchant", outcome: "applied"),
            Expect(kind: "note", outcome: "paid"),
        ]),
        (.expire, [
            Expect(kind: "payment.gateway", outcome: "pending"),
            Expect(kind: "payment.gateway", outcome: "expire"),
            Expect(kind: "payment.order", outcome: "expired"),
            Expect(kind: "http.response", from: "bank", to: "customer", outcome: "410"),
            Expect(kind: "note", outcome: "refused"),
        ]),
        (.refund, [
            Expect(kind: "payment.gateway", outcome: "capture"),
            Expect(kind: "payment.gateway", outcome: "settlement"),
            Expect(kind: "http.request", from: "merchant", to: "gateway", title: "/refund"),
            Expect(kind: "payment.gateway", outcome: "refund"),
            Expect(kind: "payment.order", outcome: "refunded"),
            Expect(kind: "note", outcome: "refunded"),
        ]),
        (.merchantDown, [
            Expect(kind: "payment.gateway", outcome: "capture"),
            Expect(kind: "http.response", from: "merchant", to: "notification", outcome: "503"),
            Expect(kind: "http.response", from: "merchant", to: "notification", outcome: "200"),
            Expect(kind: "note", outcome: "delivered"),
        ]),
        (.forgedWebhook, [
            Expect(kind: "payment.webhook", from: "merchant", outcome: "duplicate"),
            Expect(kind: "http.request", from: "attacker", to: "merchant", title: "POST /notifications"),
            Expect(kind: "payment.webhook", from: "merchant", outcome: "rejected"),
            Expect(kind: "http.response", from: "merchant", to: "attacker", outcome: "401"),
            Expect(kind: "http.request", from: "attacker", to: "merchant", title: "POST /notifications"),
            Expect(kind: "payment.webhook", from: "merchant", outcome: "duplicate"),
            Expect(kind: "http.response", from: "merchant", to: "attacker", outcome: "200"),
            Expect(kind: "note", outcome: "rejected"),
        ]),
        (.mitm, [
            Expect(kind: "tcp.connect", from: "merchant", to: "interceptor"),
            Expect(kind: "tls.refused", from: "merchant", to: "interceptor", outcome: "refused"),
            Expect(kind: "tls.handshake", from: "customer", to: "interceptor", outcome: "unverified"),
            Expect(kind: "payment.eavesdropped", from: "interceptor", outcome: "card stolen"),
            Expect(kind: "tls.handshake", from: "interceptor", to: "gateway", outcome: "verified"),
            Expect(kind: "payment.eavesdropped", from: "interceptor", outcome: "server key stolen"),
            Expect(kind: "payment.gateway", outcome: "capture"),
            Expect(kind: "note", outcome: "card stolen"),
        ]),
        (.gatewayRestart, [
            Expect(kind: "payment.gateway", outcome: "pending"),
            Expect(kind: "http.response", from: "merchant", to: "notification", outcome: "503"),
            Expect(kind: "note", title: "Started again"),
            Expect(kind: "tcp.connect", from: "notification", to: "merchant"),
            Expect(kind: "payment.webhook", from: "merchant"),
            Expect(kind: "http.response", from: "merchant", to: "notification", outcome: "200"),
            Expect(kind: "note", outcome: "recovered"),
        ]),
        (.cstore, [
            Expect(kind: "http.request", from: "merchant", to: "gateway", title: "POST /v2/charge"),
            Expect(kind: "payment.bank", title: "opened"),
            Expect(kind: "payment.gateway", outcome: "pending"),
            Expect(kind: "http.request", from: "customer", to: "bank", title: "/pay"),
            Expect(kind: "payment.gateway", outcome: "settlement"),
            Expect(kind: "payment.order", outcome: "paid"),
            Expect(kind: "note", outcome: "paid"),
        ]),
        (.qris, [
            Expect(kind: "payment.gateway", outcome: "pending"),
            Expect(kind: "http.request", from: "customer", to: "gateway", title: "/qr-code"),
            Expect(kind: "http.response", from: "gateway", to: "customer", outcome: "200"),
            Expect(kind: "note", title: "reads its payload"),
            Expect(kind: "http.request", from: "customer", to: "bank", title: "/pay"),
            Expect(kind: "payment.gateway", outcome: "settlement"),
            Expect(kind: "note", outcome: "paid"),
        ]),
        (.savedCard, [
            Expect(kind: "http.request", from: "customer", to: "gateway", title: "GET /v2/card/register"),
            Expect(kind: "http.request", from: "merchant", to: "gateway", title: "POST /v2/charge"),
            Expect(kind: "payment.gateway", outcome: "capture"),
            Expect(kind: "payment.order", outcome: "paid"),
            Expect(kind: "http.request", from: "merchant", to: "gateway", title: "POST /v2/charge"),
            Expect(kind: "payment.gateway", outcome: "capture"),
            Expect(kind: "payment.order", outcome: "paid"),
            Expect(kind: "note", outcome: "paid"),
        ]),
        (.gopayLinked, [
            Expect(kind: "http.request", from: "merchant", to: "gateway", title: "POST /v2/pay/account"),
            Expect(kind: "http.request", from: "customer", to: "gateway", title: "/link"),
            Expect(kind: "http.request", from: "gateway", to: "bank", title: "POST /wallets/link"),
            Expect(kind: "http.request", from: "merchant", to: "gateway", title: "POST /v2/charge"),
            Expect(kind: "http.request", from: "gateway", to: "bank", title: "POST /wallets/pay"),
            Expect(kind: "payment.gateway", outcome: "settlement"),
            Expect(kind: "payment.order", outcome: "paid"),
            Expect(kind: "note", outcome: "paid"),
        ]),
        (.subscription, [
            Expect(kind: "http.request", from: "customer", to: "gateway", title: "GET /v2/card/register"),
            Expect(kind: "http.request", from: "merchant", to: "gateway", title: "POST /v1/subscriptions"),
            Expect(kind: "payment.gateway", outcome: "capture"),
            Expect(kind: "payment.order", outcome: "paid"),
            Expect(kind: "payment.gateway", outcome: "capture"),
            Expect(kind: "payment.gateway", outcome: "capture"),
            Expect(kind: "note", outcome: "charged"),
        ]),
    ]

    @Test("each scenario tells its story", arguments: DemoScenario.allCases)
    func story(_ scenario: DemoScenario) async throws {
        let recorder = DemoRecorder()
        let result = await DemoRunner.run(DemoOptions(scenario: scenario), recorder: recorder)
        let steps = recorder.steps
        #expect(result.succeeded, "\(result.summary)\n\(Self.outline(steps))")
        let expected = try #require(Self.stories.first { $0.0 == scenario }?.1)
        var position = steps.startIndex
        for expectation in expected {
            guard let found = steps[position...].firstIndex(where: expectation.matches) else {
                Issue.record("\(scenario.rawValue): no step [\(expectation)] after step \(position); the story was:\n\(Self.outline(steps))")
                return
            }
            position = found + 1
        }
        Self.checkInvariants(steps, scenario: scenario)
    }

    @Test("over TLS the card number never crosses TCP readable; with --plaintext it does, and the wiretap marks it")
    func plaintextAgainstTLS() async throws {
        let card = Array("4711111111111115".utf8)
        for plaintext in [false, true] {
            let recorder = DemoRecorder()
            let result = await DemoRunner.run(DemoOptions(scenario: .cardDeny, plaintext: plaintext), recorder: recorder)
            #expect(result.succeeded, "\(result.summary)")
            let token = try #require(recorder.steps.first { $0.kind == "http.request" && $0.title.contains("/v2/token") }?.wire)
            #expect(Self.contains([UInt8](token.plaintext), card), "the token request carries the card number above TLS")
            if plaintext {
                #expect(token.ciphertext == nil)
                #expect(!recorder.steps.contains { $0.kind.hasPrefix("tls.") })
                let view = DemoText.wiretap(recorder.steps.first { $0.wire == token }!, style: DemoStyle(colour: false, width: 100))
                #expect(view.contains("⚠ the card number at bytes") && view.contains("readable by anyone on the path"), "\(view)")
            } else {
                for step in recorder.steps where step.wire != nil {
                    let cipher = [UInt8](try #require(step.wire?.ciphertext, "step \(step.number) has no ciphertext"))
                    #expect(!Self.contains(cipher, card), "step \(step.number): the card number is readable below TLS")
                    #expect(TLSRecordSummary.parse(cipher).allSatisfy { $0.contentType == 23 }, "step \(step.number): only application_data records")
                }
            }
        }
    }

    @Test("the Mermaid trace names the actors and draws every message")
    func mermaid() async throws {
        let recorder = DemoRecorder()
        _ = await DemoRunner.run(DemoOptions(scenario: .vaTransfer), recorder: recorder)
        let trace = DemoTrace.mermaid(recorder.steps, title: "va-transfer")
        #expect(trace.contains("```mermaid\nsequenceDiagram"))
        for actor in ["customer", "merchant", "gateway", "bank", "notification"] { #expect(trace.contains("participant \(actor)")) }
        let messages = recorder.steps.filter { $0.kind.hasPrefix("http.") }.count
        #expect(trace.components(separatedBy: "\n").filter { $0.contains("->>") && !$0.contains("TCP connect") && !$0.contains("TLS handshake") }.count
                + trace.components(separatedBy: "\n").filter { $0.contains("-->>") }.count >= messages)
        #expect(!trace.contains(";"), "Mermaid would end a message at ';'")
    }

    /// Numbering is 1…n without gaps; every request has its response on the same pair of actors.
    static func checkInvariants(_ steps: [DemoStep], scenario: DemoScenario) {
        #expect(steps.map(\.number) == Array(1...steps.count), "\(scenario.rawValue): steps are numbered in order")
        let requests = steps.filter { $0.kind == "http.request" }, responses = steps.filter { $0.kind == "http.response" }
        #expect(requests.count == responses.count,
                "\(scenario.rawValue): \(requests.count) requests, \(responses.count) responses; the story was:\n\(outline(steps))")
        for step in steps where step.wire != nil {
            #expect(!String(decoding: step.wire!.plaintext, as: UTF8.self).contains("fraud_verdict"),
                    "step \(step.number): the gateway's internal fraud_verdict leaked into a message")
        }
        for step in steps where step.kind == "http.response" {
            #expect(steps.contains { $0.kind == "http.request" && $0.from == step.to && $0.to == step.from && $0.number < step.number })
        }
    }

    static func outline(_ steps: [DemoStep]) -> String {
        steps.map { "  \($0.number) \($0.kind) \($0.from)\($0.to.map { " → \($0)" } ?? "") [\($0.outcome ?? "")] \($0.title.prefix(70))" }
            .joined(separator: "\n")
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard haystack.count >= needle.count else { return false }
        return (0...(haystack.count - needle.count)).contains { haystack[$0..<($0 + needle.count)].elementsEqual(needle) }
    }
}
