import NetLabConformance
import Testing

/// The labs' checks — the same code `swift run lab check N` runs against a student's code in
/// exercises/ — pass with NetLab's own implementations. (Lab 2's are in HTTPParserTests.)
@Suite("Lab checks against the reference", .timeLimit(.minutes(3)))
struct LabSuiteTests {
    static func run(_ suite: LabSuite) async {
        for step in suite.steps {
            do {
                try await step.run()
            } catch let failure as LabFailure {
                Issue.record("step \(step.id) (\(step.title.en)): \(failure.render(.en))")
            } catch {
                Issue.record("step \(step.id) (\(step.title.en)): \(error)")
            }
        }
    }

    @Test("lab 1 (sockets) passes with ReferenceEcho")
    func sockets() async { await Self.run(SocketsLab.suite(ReferenceEcho())) }

    @Test("lab 5 (webhooks) passes with ReferenceWebhookHandler")
    func webhooks() async { await Self.run(WebhooksLab.suite(ReferenceWebhookHandler())) }

    @Test("bilingual texts: every step has an English and an Indonesian title")
    func bilingual() {
        for suite in [SocketsLab.suite(ReferenceEcho()), WebhooksLab.suite(ReferenceWebhookHandler())] {
            for step in suite.steps { #expect(!step.title.en.isEmpty && !step.title.id.isEmpty && step.title.en != step.title.id, "\(step.id)") }
        }
    }
}
