import NetLabDemo
import Testing

/// The demo's words on a terminal, and in a file.
@Suite("Demo rendering")
struct RenderingTests {
    static let step = DemoStep(number: 5, layer: .http, kind: .httpRequest, from: "customer", to: "gateway",
                               title: "customer → gateway: GET /v2/token?" + String(repeating: "card_number=4811111111111114&", count: 8),
                               details: ["   Host: 127.0.0.1:40167 " + String(repeating: "x", count: 200)])

    @Test("on a terminal, long lines are cut at its width with …")
    func terminalCuts() {
        let text = DemoText.render(Self.step, style: DemoStyle(colour: false, width: 80))
        for line in text.split(separator: "\n") { #expect(line.count <= 80, "\(line)") }
        #expect(text.contains("…"))
    }

    @Test("piped to a file or a pager, every line is kept whole")
    func pipedKeepsLines() {
        let text = DemoText.render(Self.step, style: DemoStyle(colour: false, width: 80, cutsLines: false))
        #expect(text.contains(Self.step.title))
        #expect(text.contains(Self.step.details[0]))
        #expect(!text.contains("…"))
    }
}
