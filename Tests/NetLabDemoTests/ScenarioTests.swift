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
        var kind: DemoStep.Kind
        var from: String? = nil
        var to: String? = nil
        var outcome: String? = nil
        var title: String? = nil

        func matches(_ step: DemoStep) -> Bool {
            step.kind == kind && (from == nil || step.from == from) && (to == nil || step.to == to)
                && (outcome == nil || (step.outcome ?? "").hasPrefix(outcome!)) && (title == nil || step.title.contains(title!))
        }

        var description: String {
            [kind.rawValue, from.map { "from \($0)" }, to.map { "to \($0)" }, outcome.map { "outcome \($0)" }, title.map { "title ~ \($0)" }]
                .compactMap { $0 }.joined(separator: ", ")
        }
    }

    /// The stories, as specifications: scenario → the steps that must happen, in order.
    static let stories: [(DemoScenario, [Expect])] = [
        (.cardAccept, [
            Expect(kind: .tcpConnect, from: "customer", to: "gateway"),
            Expect(kind: .tlsHandshake, from: "customer", to: "gateway", outcome: "verified"),
            Expect(kind: .httpRequest, from: "customer", to: "gateway", title: "GET /v2/token"),
            Expect(kind: .httpRequest, from: "customer", to: "merchant", title: "POST /orders"),
            Expect(kind: .httpRequest, from: "merchant", to: "gateway", title: "POST /v2/charge"),
            Expect(kind: .paymentFraud, outcome: "accept"),
            Expect(kind: .paymentBank, outcome: "3-D Secure required"),
            Expect(kind: .paymentGateway, outcome: "pending"),
            Expect(kind: .httpRequest, from: "customer", to: "gateway", title: "POST /v2/3ds/"),
            Expect(kind: .paymentBank, outcome: "card approved"),
            Expect(kind: .paymentGateway, outcome: "capture"),
            Expect(kind: .paymentOrder, outcome: "paid"),
            Expect(kind: .note, outcome: "paid"),
        ]),
        (.cardDeny, [
            Expect(kind: .paymentFraud, outcome: "accept"),
            Expect(kind: .paymentBank, outcome: "card declined"),
            Expect(kind: .paymentGateway, outcome: "deny"),
            Expect(kind: .paymentOrder, outcome: "denied"),
            Expect(kind: .note, outcome: "denied"),
        ]),
        (.fraudChallenge, [
            Expect(kind: .paymentFraud, outcome: "challenge"),
            Expect(kind: .paymentGateway, outcome: "capture"),
            Expect(kind: .paymentOrder, outcome: "awaiting_review"),
            Expect(kind: .httpRequest, from: "merchant", to: "gateway", title: "/approve"),
            Expect(kind: .paymentOrder, outcome: "paid"),
            Expect(kind: .note, outcome: "paid"),
        ]),
        (.vaTransfer, [
            Expect(kind: .paymentBank, outcome: "virtual account"),
            Expect(kind: .paymentGateway, outcome: "pending"),
            Expect(kind: .httpRequest, from: "customer", to: "bank", title: "/pay"),
            Expect(kind: .httpRequest, from: "bank", to: "gateway", title: "POST /bank/v1/payments"),
            Expect(kind: .paymentGateway, outcome: "settlement"),
            Expect(kind: .httpRequest, from: "notification", to: "merchant", title: "POST /notifications"),
            Expect(kind: .paymentWebhook, from: "merchant", outcome: "applied"),
            Expect(kind: .note, outcome: "paid"),
        ]),
        (.expire, [
            Expect(kind: .paymentGateway, outcome: "pending"),
            Expect(kind: .paymentGateway, outcome: "expire"),
            Expect(kind: .paymentOrder, outcome: "expired"),
            Expect(kind: .httpResponse, from: "bank", to: "customer", outcome: "410"),
            Expect(kind: .note, outcome: "refused"),
        ]),
        (.refund, [
            Expect(kind: .paymentGateway, outcome: "capture"),
            Expect(kind: .paymentGateway, outcome: "settlement"),
            Expect(kind: .httpRequest, from: "merchant", to: "gateway", title: "/refund"),
            Expect(kind: .paymentGateway, outcome: "refund"),
            Expect(kind: .paymentOrder, outcome: "refunded"),
            Expect(kind: .note, outcome: "refunded"),
        ]),
        (.merchantDown, [
            Expect(kind: .paymentGateway, outcome: "capture"),
            Expect(kind: .httpResponse, from: "merchant", to: "notification", outcome: "503"),
            Expect(kind: .httpResponse, from: "merchant", to: "notification", outcome: "200"),
            Expect(kind: .note, outcome: "delivered"),
        ]),
        (.forgedWebhook, [
            Expect(kind: .paymentWebhook, from: "merchant", outcome: "duplicate"),
            Expect(kind: .httpRequest, from: "attacker", to: "merchant", title: "POST /notifications"),
            Expect(kind: .paymentWebhook, from: "merchant", outcome: "rejected"),
            Expect(kind: .httpResponse, from: "merchant", to: "attacker", outcome: "401"),
            Expect(kind: .httpRequest, from: "attacker", to: "merchant", title: "POST /notifications"),
            Expect(kind: .paymentWebhook, from: "merchant", outcome: "duplicate"),
            Expect(kind: .httpResponse, from: "merchant", to: "attacker", outcome: "200"),
            Expect(kind: .note, outcome: "rejected"),
        ]),
        (.mitm, [
            Expect(kind: .tcpConnect, from: "merchant", to: "interceptor"),
            Expect(kind: .tlsRefused, from: "merchant", to: "interceptor", outcome: "refused"),
            Expect(kind: .tlsHandshake, from: "customer", to: "interceptor", outcome: "unverified"),
            Expect(kind: .paymentEavesdropped, from: "interceptor", outcome: "card stolen"),
            Expect(kind: .tlsHandshake, from: "interceptor", to: "gateway", outcome: "verified"),
            Expect(kind: .paymentEavesdropped, from: "interceptor", outcome: "server key stolen"),
            Expect(kind: .paymentGateway, outcome: "capture"),
            Expect(kind: .note, outcome: "card stolen"),
        ]),
        (.gatewayRestart, [
            Expect(kind: .paymentGateway, outcome: "pending"),
            Expect(kind: .httpResponse, from: "merchant", to: "notification", outcome: "503"),
            Expect(kind: .note, title: "Starting again"),
            Expect(kind: .tcpConnect, from: "notification", to: "merchant"),
            Expect(kind: .paymentWebhook, from: "merchant"),
            Expect(kind: .httpResponse, from: "merchant", to: "notification", outcome: "200"),
            Expect(kind: .note, outcome: "recovered"),
        ]),
        (.cstore, [
            Expect(kind: .httpRequest, from: "merchant", to: "gateway", title: "POST /v2/charge"),
            Expect(kind: .paymentBank, title: "opened"),
            Expect(kind: .paymentGateway, outcome: "pending"),
            Expect(kind: .httpRequest, from: "customer", to: "bank", title: "/pay"),
            Expect(kind: .paymentGateway, outcome: "settlement"),
            Expect(kind: .paymentOrder, outcome: "paid"),
            Expect(kind: .note, outcome: "paid"),
        ]),
        (.qris, [
            Expect(kind: .paymentGateway, outcome: "pending"),
            Expect(kind: .httpRequest, from: "customer", to: "gateway", title: "/qr-code"),
            Expect(kind: .httpResponse, from: "gateway", to: "customer", outcome: "200"),
            Expect(kind: .note, title: "reads its payload"),
            Expect(kind: .httpRequest, from: "customer", to: "bank", title: "/pay"),
            Expect(kind: .paymentGateway, outcome: "settlement"),
            Expect(kind: .note, outcome: "paid"),
        ]),
        (.savedCard, [
            Expect(kind: .httpRequest, from: "customer", to: "gateway", title: "GET /v2/card/register"),
            Expect(kind: .httpRequest, from: "merchant", to: "gateway", title: "POST /v2/charge"),
            Expect(kind: .paymentGateway, outcome: "capture"),
            Expect(kind: .paymentOrder, outcome: "paid"),
            Expect(kind: .httpRequest, from: "merchant", to: "gateway", title: "POST /v2/charge"),
            Expect(kind: .paymentGateway, outcome: "capture"),
            Expect(kind: .paymentOrder, outcome: "paid"),
            Expect(kind: .note, outcome: "paid"),
        ]),
        (.gopayLinked, [
            Expect(kind: .httpRequest, from: "merchant", to: "gateway", title: "POST /v2/pay/account"),
            Expect(kind: .httpRequest, from: "customer", to: "gateway", title: "/link"),
            Expect(kind: .httpRequest, from: "gateway", to: "bank", title: "POST /wallets/link"),
            Expect(kind: .httpRequest, from: "merchant", to: "gateway", title: "POST /v2/charge"),
            Expect(kind: .httpRequest, from: "gateway", to: "bank", title: "POST /wallets/pay"),
            Expect(kind: .paymentGateway, outcome: "settlement"),
            Expect(kind: .paymentOrder, outcome: "paid"),
            Expect(kind: .note, outcome: "paid"),
        ]),
        (.smuggling, [
            Expect(kind: .httpRequest, from: "customer", to: "merchant", title: "POST /orders"),
            Expect(kind: .paymentWebhook, outcome: "duplicate"),
            Expect(kind: .note, outcome: "refused"),
            Expect(kind: .note, outcome: "refused"),
        ]),
        (.subscription, [
            Expect(kind: .httpRequest, from: "customer", to: "gateway", title: "GET /v2/card/register"),
            Expect(kind: .httpRequest, from: "merchant", to: "gateway", title: "POST /v1/subscriptions"),
            Expect(kind: .paymentGateway, outcome: "capture"),
            Expect(kind: .paymentOrder, outcome: "paid"),
            Expect(kind: .paymentGateway, outcome: "capture"),
            Expect(kind: .paymentGateway, outcome: "capture"),
            Expect(kind: .note, outcome: "charged"),
        ]),
    ]

    /// The network stories need root and namespaces: LabNetworkTests play them.
    @Test("each scenario tells its story", arguments: DemoScenario.allCases.filter { !$0.needsNetwork })
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
            let token = try #require(recorder.steps.first { $0.kind == .httpRequest && $0.title.contains("/v2/token") }?.wire)
            #expect(Self.contains([UInt8](token.plaintext), card), "the token request carries the card number above TLS")
            if plaintext {
                #expect(token.ciphertext == nil)
                #expect(!recorder.steps.contains { $0.kind.isOf(.tls) })
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
        let messages = recorder.steps.filter { $0.kind.isOf(.http) }.count
        #expect(trace.components(separatedBy: "\n").filter { $0.contains("->>") && !$0.contains("TCP connect") && !$0.contains("TLS handshake") }.count
                + trace.components(separatedBy: "\n").filter { $0.contains("-->>") }.count >= messages)
        #expect(!trace.contains(";"), "Mermaid would end a message at ';'")
    }

    /// Numbering is 1…n without gaps; every request has its response on the same pair of actors.
    static func checkInvariants(_ steps: [DemoStep], scenario: DemoScenario) {
        #expect(steps.map(\.number) == Array(1...steps.count), "\(scenario.rawValue): steps are numbered in order")
        let requests = steps.filter { $0.kind == .httpRequest }, responses = steps.filter { $0.kind == .httpResponse }
        #expect(requests.count == responses.count,
                "\(scenario.rawValue): \(requests.count) requests, \(responses.count) responses; the story was:\n\(outline(steps))")
        for step in steps where step.wire != nil {
            #expect(!String(decoding: step.wire!.plaintext, as: UTF8.self).contains("fraud_verdict"),
                    "step \(step.number): the gateway's internal fraud_verdict leaked into a message")
        }
        for step in steps where step.kind == .httpResponse {
            #expect(steps.contains { $0.kind == .httpRequest && $0.from == step.to && $0.to == step.from && $0.number < step.number })
        }
    }

    static func outline(_ steps: [DemoStep]) -> String {
        steps.map { "  \($0.number) \($0.kind.rawValue) \($0.from)\($0.to.map { " → \($0)" } ?? "") [\($0.outcome ?? "")] \($0.title.prefix(70))" }
            .joined(separator: "\n")
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard haystack.count >= needle.count else { return false }
        return (0...(haystack.count - needle.count)).contains { haystack[$0..<($0 + needle.count)].elementsEqual(needle) }
    }
}
