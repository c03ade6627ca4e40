/// How NetLab prints bytes and parser events (in `netlab parse`, the conformance suites and
/// the labs): escaped so CR, LF and other invisible bytes show, with a caret under the byte an
/// error points at.
public enum HTTPEventRendering {
    /// Merges adjacent body pieces and adjacent upgrade remainders, so the events of one input
    /// compare equal however the input was split.
    public static func normalized(_ events: [HTTPEvent]) -> [HTTPEvent] {
        // Linear: adjacent pieces are gathered in one buffer, then emitted as one event.
        var result: [HTTPEvent] = []
        var body: [UInt8]?
        var upgrade: [UInt8]?
        func flush() {
            if let pending = body, !pending.isEmpty { result.append(.body(pending[...])) }
            if let pending = upgrade { result.append(.upgrade(remaining: pending)) }
            body = nil
            upgrade = nil
        }
        for event in events {
            switch event {
            case .body(let piece):
                if upgrade != nil { flush() }
                body = (body ?? []) + piece
            case .upgrade(let remaining):
                if body != nil { flush() }
                upgrade = (upgrade ?? []) + remaining
            default:
                flush()
                result.append(event)
            }
        }
        flush()
        return result
    }

    /// One event on one line.
    public static func describe(_ event: HTTPEvent) -> String {
        switch event {
        case .requestHead(let head):
            return "request head: \(head.method) \(head.target) \(head.version), fields \(fieldList(head.fields)); "
                + "framing \(head.framing), keepAlive \(head.keepAlive)\(head.expectsContinue ? ", expectsContinue" : "")"
        case .responseHead(let head):
            return "response head: \(head.version) \(head.status) \"\(head.reason)\", fields \(fieldList(head.fields)); "
                + "framing \(head.framing), keepAlive \(head.keepAlive)"
        case .body(let bytes): return "body: \(escaped(Array(bytes)))"
        case .trailers(let fields): return "trailers: \(fieldList(fields))"
        case .endOfMessage: return "end of message"
        case .upgrade(let remaining): return "upgrade, remaining: \(escaped(remaining))"
        }
    }

    static func fieldList(_ fields: HTTPFields) -> String {
        "[" + fields.map { "\($0.name): \($0.value)" }.joined(separator: ", ") + "]"
    }

    /// Bytes as a quoted string with `\r`, `\n`, `\t` and `\xNN` escapes.
    public static func escaped(_ bytes: [UInt8], limit: Int = 400) -> String {
        var text = "\""
        for byte in bytes.prefix(limit) { text += escape(byte) }
        if bytes.count > limit { text += "… (\(bytes.count) bytes)" }
        return text + "\""
    }

    static func escape(_ byte: UInt8) -> String {
        switch byte {
        case 0x0D: return "\\r"
        case 0x0A: return "\\n"
        case 0x09: return "\\t"
        case 0x22: return "\\\""
        case 0x5C: return "\\\\"
        case 0x20...0x7E: return String(UnicodeScalar(byte))
        default:
            let hex = String(byte, radix: 16)
            return "\\x" + (hex.count == 1 ? "0" + hex : hex)
        }
    }

    /// The escaped line of input around `offset`, and a caret under the byte at `offset`.
    public static func caret(_ bytes: [UInt8], at offset: Int) -> String {
        let from = max(0, offset - 30)
        let to = min(bytes.count, offset + 10)
        guard from <= to else { return "error offset \(offset) is past the input's \(bytes.count) bytes" }
        var line = ""
        var column = 0
        for i in from..<to {
            if i == offset { column = line.count }
            line += escape(bytes[i])
        }
        if offset >= to { column = line.count }
        return "byte \(offset): " + line + "\n" + String(repeating: " ", count: column + "byte \(offset): ".count) + "^"
    }
}
