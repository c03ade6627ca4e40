// The bytes HTTP/1.1 allows where, transcribed from the RFCs' ABNF. Each rule is a 256-entry
// table so the parser classifies a byte with one load; the ABNF is quoted above each table.

/// Byte classes used by the parser and serializer.
enum Grammar {
    /// RFC 9110 §5.6.2:
    ///
    ///     token = 1*tchar
    ///     tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
    ///             "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
    static let tchar: [Bool] = table { byte in
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "A")...UInt8(ascii: "Z"):
            return true
        default:
            return Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }

    /// RFC 9110 §5.5 (field values), with obs-text allowed as the RFC says recipients must:
    ///
    ///     field-content = field-vchar [ 1*( SP / HTAB / field-vchar ) field-vchar ]
    ///     field-vchar   = VCHAR / obs-text
    ///     obs-text      = %x80-FF
    ///
    /// True for SP, HTAB, VCHAR (0x21-0x7E) and obs-text. NUL, CR, LF, DEL and the other
    /// controls are false: RFC 9110 §5.5 says a recipient MUST reject NUL, CR and LF in a value
    /// (or replace them with SP); NetLab rejects every control.
    static let fieldValueByte: [Bool] = table { byte in
        byte == 0x09 || byte == 0x20 || (0x21...0x7E).contains(byte) || byte >= 0x80
    }

    /// RFC 9112 §3.2 request-target: every form is built from URI characters (RFC 3986 §2), all
    /// visible ASCII, so no SP, no CTL, no DEL and no raw bytes above 0x7F (a client sends
    /// non-ASCII percent-encoded). Which visible characters may appear where is the URI's
    /// business, not the framing's; the target is handed on unchanged.
    static let targetByte: [Bool] = table { byte in (0x21...0x7E).contains(byte) }

    /// RFC 9112 §4: `reason-phrase = 1*( HTAB / SP / VCHAR / obs-text )`.
    static let reasonByte: [Bool] = fieldValueByte

    /// RFC 5234 B.1: `HEXDIG = DIGIT / "A" / "B" / "C" / "D" / "E" / "F"` (case-insensitive);
    /// the value of each hex digit, or -1.
    static let hexValue: [Int8] = (0..<256).map { i -> Int8 in
        switch UInt8(i) {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int8(i) - 0x30
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int8(i) - 0x61 + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int8(i) - 0x41 + 10
        default: return -1
        }
    }

    /// RFC 9110 §5.6.4 `qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text`.
    static let qdtext: [Bool] = table { byte in
        byte == 0x09 || byte == 0x20 || byte == 0x21 || (0x23...0x5B).contains(byte)
            || (0x5D...0x7E).contains(byte) || byte >= 0x80
    }

    static let cr = UInt8(ascii: "\r")
    static let lf = UInt8(ascii: "\n")
    static let sp = UInt8(ascii: " ")
    static let htab = UInt8(ascii: "\t")
    static let colon = UInt8(ascii: ":")

    @inline(__always) static func isOWS(_ byte: UInt8) -> Bool { byte == sp || byte == htab }

    private static func table(_ rule: (UInt8) -> Bool) -> [Bool] {
        (0..<256).map { rule(UInt8($0)) }
    }

    /// The tables as raw pointers, made once and never freed, so the parser's inner loops index
    /// them without array bounds checks or lazy-initialisation checks.
    nonisolated(unsafe) static let tcharTable = pointer(tchar)
    nonisolated(unsafe) static let fieldValueTable = pointer(fieldValueByte)
    nonisolated(unsafe) static let targetTable = pointer(targetByte)

    private static func pointer(_ table: [Bool]) -> UnsafePointer<Bool> {
        let storage = UnsafeMutablePointer<Bool>.allocate(capacity: 256)
        storage.initialize(from: table, count: 256)
        return UnsafePointer(storage)
    }

    /// ASCII case-insensitive comparison of `bytes` with a lowercase literal.
    @inline(__always)
    static func equalsLowercase(_ bytes: UnsafeBufferPointer<UInt8>, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        let literal = lowercase.utf8Start
        // `| 0x20` lowercases an ASCII letter; other bytes must match exactly (it would also
        // map e.g. "-" (0x2D) and "\r" (0x0D) together).
        for i in 0..<bytes.count {
            let b = bytes[i], l = literal[i]
            if b == l { continue }
            guard (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(l), b | 0x20 == l else { return false }
        }
        return true
    }
}
