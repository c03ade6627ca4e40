import Foundation

/// How the terminal output looks: colour (off for pipes and with `NO_COLOR`) and width.
public struct DemoStyle: Sendable {
    public var colour: Bool
    /// The rules' width, and where lines are cut with "…".
    public var width: Int
    /// Whether long lines are cut at `width`: on a terminal, yes; piped to a file or a pager,
    /// every line is kept whole.
    public var cutsLines: Bool

    public init(colour: Bool, width: Int, cutsLines: Bool = true) {
        self.colour = colour
        self.width = max(40, width)
        self.cutsLines = cutsLines
    }

    func paint(_ text: String, _ code: String) -> String { colour ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text }
}

/// The demo's words on a terminal.
public enum DemoText {
    static func colourCode(_ step: DemoStep) -> String {
        if ["refused", "rejected", "failed", "card stolen", "server key stolen"].contains(step.outcome ?? "") { return "1;31" }
        switch step.layer {
        case .tcp: return "34"
        case .tls: return "35"
        case .http: return "36"
        case .payment: return "32"
        case .note: return "1"
        }
    }

    /// One step: a rule with its number, layer and direction, the title, then the details.
    public static func render(_ step: DemoStep, style: DemoStyle) -> String {
        let direction = step.to.map { "\(step.from) → \($0)" } ?? step.from
        let label = " \(step.number) · \(step.layer.rawValue.uppercased()) · \(direction) "
        let rule = "──" + label + String(repeating: "─", count: max(2, style.width - label.count - 2))
        var lines = [style.paint(rule, colourCode(step)), style.paint(fit(step.title, style), "1")]
        for detail in step.details { lines.append(fit("   " + detail, style)) }
        return lines.joined(separator: "\n")
    }

    static func fit(_ line: String, _ style: DemoStyle) -> String {
        !style.cutsLines || line.count <= style.width ? line : String(line.prefix(style.width - 1)) + "…"
    }

    /// The wiretap of a message step: the bytes below TLS (what an eavesdropper gets), then the
    /// same message above it; secrets in readable bytes are highlighted.
    public static func wiretap(_ step: DemoStep, style: DemoStyle, limit: Int = 512) -> String {
        guard let wire = step.wire else { return "   (no bytes crossed in this step: it is a decision, not a message)" }
        var out: [String] = []
        let plain = [UInt8](wire.plaintext)
        if let cipher = wire.ciphertext.map({ [UInt8]($0) }) {
            let records = TLSRecordSummary.parse(cipher)
            out.append(style.paint("   below TLS — what a tap on the TCP connection sees (\(cipher.count) bytes, \(records.count) record(s)):", "35"))
            for (index, record) in records.prefix(6).enumerated() {
                // TLS 1.3 hides every record's real type: the server's session tickets, sent with
                // its first answer, look like data on the wire.
                let inside = index < wire.sessionTickets ? "a TLS 1.3 session ticket (NewSessionTicket inside, RFC 8446 §4.6.1)" : "opaque ciphertext"
                out.append("     record: content type \(record.contentType) (\(record.name)), length \(record.length): \(inside)")
            }
            out += hexDump(cipher, sensitive: [], style: style, limit: min(limit, 256))
            out.append(style.paint("   above TLS — the same message as the programs see it (\(plain.count) bytes):", "36"))
        } else {
            out.append(style.paint("   on the wire, no TLS — exactly what a tap on the TCP connection sees (\(plain.count) bytes):", "1;31"))
        }
        out += hexDump(plain, sensitive: wire.sensitive, style: style, limit: limit)
        for secret in wire.sensitive {
            guard let range = find(Array(secret.utf8), in: plain) else { continue }
            let what = secret.hasPrefix("Basic ") ? "the server key (base64 in Authorization)" : secret.hasPrefix("SB-Mid-server") ? "the server key" : "the card number"
            let exposed = wire.ciphertext == nil ? "readable by anyone on the path" : "readable only above TLS"
            out.append(style.paint("   ⚠ \(what) at bytes \(range.lowerBound)–\(range.upperBound - 1): \(exposed)", wire.ciphertext == nil ? "1;31" : "33"))
        }
        return out.joined(separator: "\n")
    }

    /// 16 bytes a line: offset, hex, ASCII; bytes of `sensitive` strings reversed in red (with
    /// colour) or shown in brackets in the ASCII column (without).
    static func hexDump(_ bytes: [UInt8], sensitive: [String], style: DemoStyle, limit: Int) -> [String] {
        var marked = Set<Int>()
        for secret in sensitive {
            var from = 0
            while let range = find(Array(secret.utf8), in: bytes, from: from) {
                marked.formUnion(range)
                from = range.upperBound
            }
        }
        var lines: [String] = []
        let shown = bytes.prefix(limit)
        for start in stride(from: 0, to: shown.count, by: 16) {
            let row = Array(shown[start..<min(start + 16, shown.count)])
            var hex = "", ascii = ""
            for (i, byte) in row.enumerated() {
                let h = String(format: "%02x", byte)
                let c = (32...126).contains(byte) ? String(UnicodeScalar(byte)) : "."
                if marked.contains(start + i) {
                    hex += style.colour ? style.paint(h, "7;31") + " " : h + " "
                    ascii += style.colour ? style.paint(c, "7;31") : "[\(c)]"
                } else {
                    hex += h + " "
                    ascii += c
                }
            }
            hex += String(repeating: "   ", count: 16 - row.count)
            lines.append(String(format: "     %04x  ", start) + hex + " " + ascii)
        }
        if bytes.count > limit { lines.append("     … \(bytes.count - limit) more bytes") }
        return lines
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int = 0) -> Range<Int>? {
        guard !needle.isEmpty, haystack.count >= needle.count, from <= haystack.count - needle.count else { return nil }
        for i in from...(haystack.count - needle.count) where haystack[i] == needle[0] && haystack[i..<(i + needle.count)].elementsEqual(needle) {
            return i..<(i + needle.count)
        }
        return nil
    }
}

/// `--trace FILE.md`: the run as a Mermaid sequence diagram (GitHub and most Markdown viewers draw it).
public enum DemoTrace {
    public static func mermaid(_ steps: [DemoStep], title: String) -> String {
        let order = ["customer", "attacker", "merchant", "interceptor", "gateway", "fraud", "bank", "notification"]
        let used = Set(steps.flatMap { [$0.from] + ($0.to.map { [$0] } ?? []) }).subtracting(["demo"])
        var lines = ["# \(title)", "", "```mermaid", "sequenceDiagram", "    autonumber"]
        for actor in order where used.contains(actor) { lines.append("    participant \(actor)") }
        for actor in used.subtracting(order).sorted() { lines.append("    participant \(id(actor)) as \(actor)") }
        for step in steps {
            let text = label(step.title)
            switch step.kind {
            case .tcpConnect: lines.append("    \(id(step.from))->>\(id(step.to ?? step.from)): TCP connect")
            case .tlsHandshake: lines.append("    \(id(step.from))->>\(id(step.to ?? step.from)): TLS handshake (\(label(step.outcome ?? "")))")
            case .tlsRefused: lines.append("    \(id(step.from))-x\(id(step.to ?? step.from)): TLS refused: untrusted certificate")
            case .httpRequest:
                let requestLine = text.components(separatedBy: ": ").dropFirst().joined(separator: ": ")
                lines.append("    \(id(step.from))->>\(id(step.to ?? step.from)): \(requestLine)")
            case .httpResponse:
                lines.append("    \(id(step.from))-->>\(id(step.to ?? step.from)): \(label(step.outcome ?? ""))")
            case .note:
                let present = (order.filter(used.contains) + used.subtracting(order).sorted()).map(id)
                lines.append("    Note over \(present.first ?? "customer")\(present.count > 1 ? "," + present.last! : ""): \(text)")
            default: lines.append("    Note over \(id(step.from)): \(text)")
            }
        }
        lines += ["```", ""]
        return lines.joined(separator: "\n")
    }

    static func id(_ actor: String) -> String { String(actor.map { $0.isLetter || $0.isNumber ? $0 : "_" }) }

    /// Mermaid message text: no `;`, `#` or line breaks, at most 100 characters.
    static func label(_ text: String) -> String {
        let cleaned = text.replacingOccurrences(of: ";", with: ",").replacingOccurrences(of: "#", with: "no.")
            .replacingOccurrences(of: "\n", with: " ")
        return cleaned.count > 100 ? String(cleaned.prefix(99)) + "…" : cleaned
    }
}
