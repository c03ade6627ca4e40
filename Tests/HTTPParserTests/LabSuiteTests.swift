import HTTPParser
import NetLabConformance
import Testing

/// Lab 2's checks — the very code `swift run lab check 2` runs against a student's parser —
/// pass with the reference parser.
@Suite("Lab 2 checks against the reference", .timeLimit(.minutes(3)))
struct ParsingLabReferenceTests {
    @Test("every step of lab 2 passes with HTTPMessageParser")
    func reference() async throws {
        for step in ParsingLab.suite(makeParser: { HTTPMessageParser(parsing: $0.kind, limits: $0.limits, options: $0.options) }).steps {
            do { try await step.run() } catch let failure as LabFailure { Issue.record("step \(step.id): \(failure.render(.en))") }
        }
    }
}
