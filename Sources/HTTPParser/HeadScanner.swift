/// The byte-level state machine for a message head (start line + field lines, RFC 9112 §2.1)
/// and for trailer sections (field lines only, §7.1.2).
///
/// It is resumable at any byte: ``scan(_:upTo:)`` walks from where the last call stopped and
/// returns the head's length once the empty line that ends it has arrived, or nil for "need
/// more". It records positions *relative to the head's first byte*, so the parser may move the
/// head within its buffer between calls. Every byte is looked at once; each phase runs a tight
/// loop over the bytes its rule allows, and every rule is checked as bytes arrive, so a bad
/// byte is reported at its offset even if the head never completes.
struct HeadScanner {
    enum Phase: UInt8 {
        case method, target, requestVersion, statusVersion, statusCode, reason, startLineLF
        case fieldLineStart, fieldName, valueStart, value, fieldLineLF, headEndLF
    }

    /// What a head scan may accept beyond the strict grammar.
    struct Rules {
        var allowBareLF: Bool
        var allowObsoleteLineFolding: Bool
        var maxRequestLineLength: Int
        var maxHeadSize: Int
        var maxFieldCount: Int
    }

    /// `HTTP-name = %s"HTTP"` and its slash (RFC 9112 §2.3), case-sensitive.
    static let httpName: StaticString = "HTTP/"

    private(set) var phase: Phase
    /// Bytes of the head scanned so far.
    private(set) var scanned = 0

    // Positions relative to the head's first byte.
    private(set) var methodEnd = 0
    private(set) var targetStart = 0
    private(set) var targetEnd = 0
    private(set) var versionStart = 0
    private(set) var statusCodeStart = 0
    private(set) var reasonStart = 0
    private(set) var reasonEnd = 0
    private(set) var fields: [HTTPFields.Entry] = []
    /// True when an obs-fold was accepted: the CR LF inside values must become SP on copy.
    private(set) var foldedValues = false
    /// What the field lines say about framing, updated as each line ends (heads only).
    private(set) var framing = FramingFacts()
    private let observesFraming: Bool
    private var nameStart = 0
    private var nameEnd = 0
    private var valueStart = 0
    private var valueEnd = 0

    /// A scanner for a request head, a response head, or a trailer section.
    init(startingWith phase: Phase) {
        self.phase = phase
        // Trailers never decide framing (RFC 9112 §7.1.2): only heads are observed.
        observesFraming = phase != .fieldLineStart
        fields.reserveCapacity(16)
    }

    /// Scans `head` (which starts at the head's first byte; `base` is the stream offset of that
    /// byte, for error offsets). Returns the head length once complete, else nil.
    mutating func scan(_ head: UnsafeBufferPointer<UInt8>, base: Int, rules: Rules) throws(HTTPParseError) -> Int? {
        let p = head.baseAddress!
        let end = min(head.count, rules.maxHeadSize)
        let tchar = Grammar.tcharTable
        let valueByte = Grammar.fieldValueTable
        let targetByte = Grammar.targetTable
        var i = scanned
        defer { scanned = i }

        while i < end {
            switch phase {
            case .method:
                while i < end && tchar[Int(p[i])] { i += 1 }
                try checkRequestLine(i, base, rules)
                guard i < end else { break }
                guard p[i] == Grammar.sp, i > 0 else { throw .invalidMethod(offset: base + i) }
                methodEnd = i
                i += 1
                targetStart = i
                phase = .target

            case .target:
                i = Self.skipWords(p, from: i, to: end, while: Self.allTargetBytes)
                while i < end && targetByte[Int(p[i])] { i += 1 }
                try checkRequestLine(i, base, rules)
                guard i < end else { break }
                guard p[i] == Grammar.sp, i > targetStart else { throw .invalidRequestTarget(offset: base + i) }
                guard Self.hasTargetForm(p, from: targetStart, to: i, connect: Self.isConnect(p, methodEnd: methodEnd)) else {
                    throw .invalidRequestTarget(offset: base + targetStart)
                }
                targetEnd = i
                i += 1
                versionStart = i
                phase = .requestVersion

            case .requestVersion, .statusVersion:
                // "HTTP/" DIGIT "." DIGIT, then CR (request) or SP (response).
                let k = i - versionStart
                let byte = p[i]
                switch k {
                case 0..<5:
                    guard byte == HeadScanner.httpName.utf8Start[k] else { throw .invalidVersion(offset: base + i) }
                case 5, 7:
                    guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else {
                        throw .invalidVersion(offset: base + i)
                    }
                    // Only HTTP/1.x is spoken here (RFC 9110 §6.2): say so as soon as it is known.
                    if k == 7 && p[i - 2] != UInt8(ascii: "1") {
                        let version = HTTPVersion(major: p[i - 2] - 0x30, minor: byte - 0x30)
                        throw .unsupportedVersion(version, offset: base + versionStart)
                    }
                case 6:
                    guard byte == UInt8(ascii: ".") else { throw .invalidVersion(offset: base + i) }
                default:
                    if phase == .statusVersion {
                        guard byte == Grammar.sp else { throw .invalidVersion(offset: base + i) }
                        i += 1
                        statusCodeStart = i
                        phase = .statusCode
                        continue
                    }
                    try checkRequestLine(i, base, rules)
                    if byte == Grammar.cr {
                        phase = .startLineLF
                    } else if byte == Grammar.lf && rules.allowBareLF {
                        phase = .fieldLineStart
                    } else {
                        throw byte == Grammar.lf ? .bareLF(offset: base + i) : .invalidVersion(offset: base + i)
                    }
                }
                i += 1

            case .statusCode:
                let k = i - statusCodeStart
                let byte = p[i]
                if k < 3 {
                    // status-code = 3DIGIT, 100-999: the first digit is never 0.
                    let lowest = k == 0 ? UInt8(ascii: "1") : UInt8(ascii: "0")
                    guard (lowest...UInt8(ascii: "9")).contains(byte) else { throw .invalidStatusCode(offset: base + i) }
                    i += 1
                } else if byte == Grammar.sp {
                    i += 1
                    reasonStart = i
                    reasonEnd = i
                    phase = .reason
                } else if byte == Grammar.cr {
                    // "HTTP/1.1 200\r\n": the SP before an empty reason-phrase is missing. RFC 9112
                    // §4 requires it, but clients SHOULD ignore the reason and many servers omit
                    // it; accepting this costs no ambiguity.
                    reasonStart = i
                    reasonEnd = i
                    i += 1
                    phase = .startLineLF
                } else {
                    throw .invalidStatusCode(offset: base + i)
                }

            case .reason:
                while i < end && valueByte[Int(p[i])] { i += 1 }
                guard i < end else { break }
                reasonEnd = i
                let byte = p[i]
                if byte == Grammar.cr {
                    phase = .startLineLF
                } else if byte == Grammar.lf && rules.allowBareLF {
                    phase = .fieldLineStart
                } else {
                    throw byte == Grammar.lf ? .bareLF(offset: base + i) : .invalidReasonPhrase(offset: base + i)
                }
                i += 1

            case .startLineLF, .fieldLineLF:
                guard p[i] == Grammar.lf else { throw .bareCR(offset: base + i - 1) }
                if phase == .fieldLineLF { try endField(p, i, base, rules) }
                i += 1
                phase = .fieldLineStart

            case .fieldLineStart:
                let byte = p[i]
                if tchar[Int(byte)] {
                    nameStart = i
                    phase = .fieldName
                } else if byte == Grammar.cr {
                    i += 1
                    phase = .headEndLF
                } else if byte == Grammar.lf {
                    guard rules.allowBareLF else { throw .bareLF(offset: base + i) }
                    return i + 1
                } else if Grammar.isOWS(byte) {
                    // RFC 9112 §5.2 obs-fold; right after the start line, §2.2 whitespace.
                    guard rules.allowObsoleteLineFolding, let last = fields.popLast() else {
                        throw .obsoleteLineFolding(offset: base + i)
                    }
                    nameStart = last.name.lowerBound
                    nameEnd = last.name.upperBound
                    valueStart = last.value.lowerBound
                    valueEnd = last.value.upperBound
                    foldedValues = true
                    // An empty value takes the folded text as its start (after its whitespace).
                    phase = valueStart == valueEnd ? .valueStart : .value
                } else {
                    throw .invalidFieldName(offset: base + i)
                }

            case .fieldName:
                i = Self.skipWords(p, from: i, to: end, while: Self.allCommonNameBytes)
                while i < end && tchar[Int(p[i])] { i += 1 }
                guard i < end else { break }
                let byte = p[i]
                if byte == Grammar.colon {
                    nameEnd = i
                    i += 1
                    phase = .valueStart
                } else if Grammar.isOWS(byte) {
                    throw .whitespaceBeforeColon(offset: base + i)
                } else {
                    throw .invalidFieldName(offset: base + i)
                }

            case .valueStart:
                while i < end && Grammar.isOWS(p[i]) { i += 1 }
                guard i < end else { break }
                valueStart = i
                valueEnd = i
                phase = .value

            case .value:
                // field-content: scan to the first byte a value cannot hold (normally the CR),
                // eight bytes at a time while no byte in the word needs a closer look.
                i = Self.skipWords(p, from: i, to: end, while: Self.allPlainValueBytes)
                while i < end && valueByte[Int(p[i])] { i += 1 }
                guard i < end else { break }
                valueEnd = trimmedValueEnd(p, i)
                let byte = p[i]
                if byte == Grammar.cr {
                    phase = .fieldLineLF
                    i += 1
                } else if byte == Grammar.lf && rules.allowBareLF {
                    try endField(p, i, base, rules)
                    i += 1
                    phase = .fieldLineStart
                } else {
                    throw byte == Grammar.lf
                        ? .bareLF(offset: base + i) : .invalidFieldValue(byte: byte, offset: base + i)
                }

            case .headEndLF:
                guard p[i] == Grammar.lf else { throw .bareCR(offset: base + i - 1) }
                return i + 1
            }
        }
        if end == rules.maxHeadSize && head.count >= end {
            throw .headTooLarge(limit: rules.maxHeadSize, offset: base + end)
        }
        return nil
    }

    // MARK: Eight bytes at a time (SWAR)
    //
    // The long runs in a head are values, targets and field names. These tests look at a whole 64-bit word:
    // when they say "all plain", all eight bytes are allowed and the scan jumps past them; when
    // they do not, the byte loop after them decides byte by byte (so a false alarm only costs
    // speed, never correctness). Byte b < k shows as a set high bit in (x - k·0x01…) & ~x.

    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highBits: UInt64 = 0x8080_8080_8080_8080

    /// Advances over whole words for which `plain` holds.
    @inline(__always)
    static func skipWords(_ p: UnsafePointer<UInt8>, from start: Int, to end: Int, while plain: (UInt64) -> Bool) -> Int {
        var i = start
        while i + 8 <= end {
            let word = UInt64(littleEndian: UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self))
            guard plain(word) else { break }
            i += 8
        }
        return i
    }

    /// Every byte is 0x20-0x7E or ≥ 0x80 — no control byte, no DEL (HTAB takes the slow path).
    @inline(__always)
    static func allPlainValueBytes(_ x: UInt64) -> Bool {
        let belowSpace = (x &- 0x20 &* ones) & ~x & highBits
        let y = x ^ (0x7F &* ones)  // DEL becomes zero
        let del = (y &- ones) & ~y & highBits
        return belowSpace | del == 0
    }

    /// Every byte is 0x21-0x7E (visible ASCII).
    @inline(__always)
    static func allTargetBytes(_ x: UInt64) -> Bool {
        guard x & highBits == 0 else { return false }
        let belowBang = (x &- 0x21 &* ones) & ~x & highBits
        let delOrAbove = (x &+ ones) & highBits  // no carries between bytes: all are < 0x80
        return belowBang | delOrAbove == 0
    }

    /// Every byte is a letter, a digit or "-": the bytes of nearly every field name in use
    /// (a subset of tchar; a name with "_" or "." finishes in the byte loop).
    @inline(__always)
    static func allCommonNameBytes(_ x: UInt64) -> Bool {
        guard x & highBits == 0 else { return false }
        let letter = bytesInRange(x | (0x20 &* ones), UInt8(ascii: "a"), UInt8(ascii: "z"))
        let digit = bytesInRange(x, UInt8(ascii: "0"), UInt8(ascii: "9"))
        let dash = bytesInRange(x, UInt8(ascii: "-"), UInt8(ascii: "-"))
        return letter | digit | dash == highBits
    }

    /// The high bit of each byte of `x` (all < 0x80) that lies in `low...high`. Adding
    /// 0x80 - low sets the high bit of bytes ≥ low; adding 0x7F - high sets it for bytes > high.
    /// Neither sum carries into the next byte, because every byte is below 0x80.
    @inline(__always)
    static func bytesInRange(_ x: UInt64, _ low: UInt8, _ high: UInt8) -> UInt64 {
        let atLeastLow = x &+ UInt64(0x80 - low) &* ones
        let aboveHigh = x &+ UInt64(0x7F - high) &* ones
        return atLeastLow & ~aboveHigh & highBits
    }

    // MARK: Request-target forms

    /// Whether the target bytes have one of RFC 9112 §3.2's four shapes (for CONNECT, the
    /// authority-form alone): origin-form (`/…`),
    /// asterisk-form (`*`), absolute-form (`scheme ":" …`, scheme = ALPHA *( ALPHA / DIGIT /
    /// "+" / "-" / "." ), whose authority after `//` must be a valid `uri-host [":" port]`) or
    /// authority-form (`uri-host ":" port`, such as `127.0.0.1:443` or `[::1]:443`). The bytes
    /// themselves were checked already; which form a method may use is the server's business.
    static func hasTargetForm(_ p: UnsafePointer<UInt8>, from start: Int, to end: Int, connect: Bool) -> Bool {
        // RFC 9112 §3.2.3: a CONNECT sends only the authority, and only CONNECT sends one.
        if connect { return isAuthority(p, from: start, to: end, portRequired: true) }
        let first = p[start]
        if first == UInt8(ascii: "/") { return true }
        if first == UInt8(ascii: "*") { return end - start == 1 }
        // absolute-form: a scheme, then ":"; with "//", an authority up to the path or query.
        // Without "//" the hier-part is a path (RFC 3986 §4.3: `urn:x`), which http and https
        // do not allow: their URIs always carry an authority (RFC 9110 §4.2.1–2).
        if isAlpha(first) {
            var i = start + 1
            while i < end, isAlpha(p[i]) || isDigit(p[i]) || p[i] == UInt8(ascii: "+") || p[i] == UInt8(ascii: "-") || p[i] == UInt8(ascii: ".") {
                i += 1
            }
            if i < end, p[i] == UInt8(ascii: ":") {
                guard i + 2 < end, p[i + 1] == UInt8(ascii: "/"), p[i + 2] == UInt8(ascii: "/") else {
                    return !isHTTPScheme(p, from: start, to: i)
                }
                var authorityEnd = i + 3
                while authorityEnd < end, p[authorityEnd] != UInt8(ascii: "/"), p[authorityEnd] != UInt8(ascii: "?") { authorityEnd += 1 }
                return isAuthority(p, from: i + 3, to: authorityEnd, portRequired: false)
            }
        }
        return isAuthority(p, from: start, to: end, portRequired: true)
    }

    /// Whether the scheme in `start..<end` is `http` or `https`, in any case (RFC 3986 §3.1).
    static func isHTTPScheme(_ p: UnsafePointer<UInt8>, from start: Int, to end: Int) -> Bool {
        let length = end - start
        guard length == 4 || length == 5 else { return false }
        for (index, byte) in "https".utf8.prefix(length).enumerated() where p[start + index] | 0x20 != byte { return false }
        return true
    }

    /// Whether the method (the bytes before `methodEnd`) is CONNECT.
    static func isConnect(_ p: UnsafePointer<UInt8>, methodEnd: Int) -> Bool {
        guard methodEnd == 7 else { return false }
        for (index, byte) in "CONNECT".utf8.enumerated() where p[index] != byte { return false }
        return true
    }

    /// `uri-host [ ":" port ]` (RFC 3986 §3.2.2–3): a bracketed IP literal or a non-empty
    /// reg-name (IPv4 included) of unreserved, sub-delim and `%` bytes; no userinfo.
    static func isAuthority(_ p: UnsafePointer<UInt8>, from start: Int, to end: Int, portRequired: Bool) -> Bool {
        guard start < end else { return false }
        var i = start
        if p[i] == UInt8(ascii: "[") {
            i += 1
            while i < end, p[i] != UInt8(ascii: "]") {
                let byte = p[i]
                guard isHexDigit(byte) || byte == UInt8(ascii: ":") || byte == UInt8(ascii: ".") || byte | 0x20 == UInt8(ascii: "v") else { return false }
                i += 1
            }
            guard i < end, i > start + 1 else { return false }
            i += 1
        } else {
            while i < end, p[i] != UInt8(ascii: ":") {
                guard isRegNameByte(p[i]) else { return false }
                i += 1
            }
            guard i > start else { return false }
        }
        if i == end { return !portRequired }
        guard p[i] == UInt8(ascii: ":") else { return false }
        i += 1
        if portRequired && i == end { return false }
        while i < end {
            guard isDigit(p[i]) else { return false }
            i += 1
        }
        return true
    }

    private static func isAlpha(_ byte: UInt8) -> Bool { (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z") }
    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
    private static func isHexDigit(_ byte: UInt8) -> Bool { isDigit(byte) || ((byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "f")) }
    /// unreserved / sub-delims / "%" (RFC 3986 §3.2.2's reg-name, pct-encoding checked loosely).
    private static func isRegNameByte(_ byte: UInt8) -> Bool {
        isAlpha(byte) || isDigit(byte) || Array("-._~!$&'()*+,;=%".utf8).contains(byte)
    }

    /// Where the value ending before `i` really ends: OWS at the end is not part of it
    /// (RFC 9110 §5.5), nor is a trailing obs-fold that held only whitespace.
    private func trimmedValueEnd(_ p: UnsafePointer<UInt8>, _ i: Int) -> Int {
        var end = i
        while end > valueStart {
            let byte = p[end - 1]
            guard Grammar.isOWS(byte) || (foldedValues && (byte == Grammar.cr || byte == Grammar.lf)) else { break }
            end -= 1
        }
        return end
    }

    private mutating func endField(_ p: UnsafePointer<UInt8>, _ i: Int, _ base: Int, _ rules: Rules) throws(HTTPParseError) {
        guard fields.count < rules.maxFieldCount else {
            throw .tooManyFields(limit: rules.maxFieldCount, offset: base + i)
        }
        if observesFraming && !foldedValues {
            try framing.observe(
                name: UnsafeBufferPointer(start: p + nameStart, count: nameEnd - nameStart),
                value: UnsafeBufferPointer(start: p + valueStart, count: valueEnd - valueStart),
                nameOffset: base + nameStart, valueOffset: base + valueStart)
        }
        fields.append(HTTPFields.Entry(name: nameStart..<nameEnd, value: valueStart..<valueEnd))
    }

    private func checkRequestLine(_ i: Int, _ base: Int, _ rules: Rules) throws(HTTPParseError) {
        if i > rules.maxRequestLineLength {
            throw .requestLineTooLong(limit: rules.maxRequestLineLength, offset: base + rules.maxRequestLineLength)
        }
    }
}

extension HeadScanner {
    /// The framing facts of the completed head. With obs-fold accepted, values were only final
    /// once the folds were replaced, so the fields are observed now from the copied storage.
    func finishedFraming(_ fields: HTTPFields, base: Int, version: HTTPVersion) throws(HTTPParseError) -> FramingFacts {
        var facts = framing
        if foldedValues {
            facts = FramingFacts()
            try fields.storage.withUnsafeBufferPointer { storage throws(HTTPParseError) in
                for entry in fields.entries {
                    try facts.observe(
                        name: UnsafeBufferPointer(rebasing: storage[entry.name]),
                        value: UnsafeBufferPointer(rebasing: storage[entry.value]),
                        nameOffset: base + entry.name.lowerBound, valueOffset: base + entry.value.lowerBound)
                }
            }
        }
        try facts.finish(version: version)
        return facts
    }
}
