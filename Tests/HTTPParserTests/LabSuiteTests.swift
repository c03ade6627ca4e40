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

/// Lab 2's checks catch a parser that is lenient where it must be strict.
@Suite("Lab 2 checks catch mistakes", .timeLimit(.minutes(3)))
struct ParsingLabCatchesMistakesTests {
    @Test("a parser that always accepts bare LF and obs-fold fails the refusals — and llhttp's corpus, when it is here")
    func lenientParser() async {
        let suite = ParsingLab.suite { HTTPMessageParser(parsing: $0.kind, limits: $0.limits, options: [.allowBareLF, .allowObsoleteLineFolding]) }
        var failed: [String] = []
        var refusals: LabFailure?
        for step in suite.steps {
            do { try await step.run() } catch {
                failed.append(step.id)
                if step.id == "2.2" { refusals = error as? LabFailure }
            }
        }
        #expect(failed.contains("2.2"))
        // The evidence is labelled in the student's language; the bytes and the RFC stay as they are.
        let english = refusals?.render(.en) ?? "", indonesian = refusals?.render(.id) ?? ""
        #expect(english.contains("expected:") && english.contains("got:") && english.contains("— fed "), "\(english)")
        #expect(indonesian.contains("diharapkan:") && indonesian.contains("diterima:") && indonesian.contains("— diumpankan ")
                    && indonesian.contains("masukan: ") && !indonesian.contains("expected:"), "\(indonesian)")
        #expect(!failed.contains("2.1") && !failed.contains("2.5"), "valid CRLF messages parse the same either way: \(failed)")
        if suite.steps.contains(where: { $0.id == "2.6" }) { #expect(failed.contains("2.6")) }
    }
}
