// Fuzz target: NetLab's request parser against llhttp's strict mode (Node.js's parser).
//
// The rule (docs/HTTP-PARSER.md, "Against llhttp"): NetLab may refuse more than llhttp, never
// accept what llhttp refuses, unless an RFC sentence sanctions it; and a request both accept
// reads the same (method, target, version, fields, trailers, body). Each sanctioned
// difference is a case of `Sanctioned` with its sentence; anything else is a finding.
import CLLHTTP
import FuzzSupport
import HTTPParser

/// Where NetLab accepts what llhttp 9 refuses, and the RFC sentence that allows it.
enum Sanctioned {
    /// RFC 9110 §9.1: "method = token" — extension methods are methods; llhttp knows a
    /// fixed list (HPE_INVALID_METHOD for the rest).
    case extensionMethod
    /// RFC 9110 §16.1.1 and §9.1: methods are case-sensitive tokens; llhttp reads the
    /// letters after a known method's first as part of its list (e.g. `PUN`, `GETS`).
    case methodSpelling

    /// RFC 9110 §6.2: a recipient of a higher minor version within a major version it
    /// implements "SHOULD process the message as if it were in the highest minor version";
    /// llhttp's strict mode refuses every version but 0.9, 1.0, 1.1 and 2.0 (HPE_INVALID_VERSION).
    case higherMinorVersion

    /// RFC 9110 §9.1: `PRI` is a method like any other to HTTP/1.1; llhttp pauses on it as if
    /// it were HTTP/2's preface (RFC 9113 §3.4), which says `HTTP/2.0` and NetLab answers 505.
    case priMethod

    /// RFC 9112 §7.1.1: `chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )`
    /// with `chunk-ext-val = token / quoted-string`: whitespace around `;` and `=`, and
    /// quoted-pairs inside a quoted value, are the grammar; llhttp's strict mode refuses them.
    case chunkExtensionGrammar

    /// RFC 3986 §3.1: `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`; llhttp takes
    /// letters only. (The server answers any scheme but http and https 400.)
    case schemeGrammar

    /// RFC 3986 §4.3: `absolute-URI = scheme ":" hier-part [ "?" query ]`, and a `hier-part`
    /// may be a path without `//` and an authority (`t:`, `urn:x`); llhttp wants `scheme://`.
    /// (The server answers any scheme but http and https 400; an http(s) URI without a host is
    /// refused by RFC 9110 §4.2.1.)
    case absoluteURIWithoutAuthority

    /// RFC 9112 §5: `field-line = field-name ":" OWS field-value OWS`, and OWS is spaces and
    /// horizontal tabs: a tab after `Content-Length: 3` is whitespace around the value, which
    /// llhttp's strict mode takes for a bad character.
    case whitespaceAroundContentLength

    /// RFC 9110 §6.5.1: trailer fields are never merged into the head (NetLab keeps them
    /// apart, and its framing is decided by the head alone), and a recipient "MAY selectively
    /// retain or discard" them; llhttp refuses a Transfer-Encoding or Content-Length trailer.
    case framingFieldInTrailers

    /// The same sentence: a `Connection: close` among the trailers closes nothing here (the
    /// head decides keep-alive); llhttp then refuses the next request as data after a close.
    case connectionFieldInTrailers

    /// The sanctioned difference that explains llhttp's refusal of `head`, if any (`previous`:
    /// the trailers of the request before it).
    static func explains(
        llhttpError: Int32, reason: String, netlab head: HTTPRequestHead, trailers: HTTPFields?, previous: HTTPFields?
    ) -> Sanctioned? {
        if llhttpError == 5, let previous, previous.contains("Connection") {  // HPE_CLOSED_CONNECTION
            return .connectionFieldInTrailers
        }
        if let trailers, trailers.contains("Transfer-Encoding") || trailers.contains("Content-Length"),
            reason.contains("Transfer-Encoding") || reason.contains("Content-Length")
        {
            return .framingFieldInTrailers
        }
        // llhttp pauses on PRI, refuses what follows unless it is the preface, or waits for it.
        if head.method.rawValue == "PRI", llhttpError == 0 || llhttpError == 23 || reason.contains("HTTP/2") { return .priMethod }
        switch llhttpError {
        case 6:  // HPE_INVALID_METHOD
            return known.contains(head.method.rawValue) ? .methodSpelling : .extensionMethod
        case 7 where reason.contains("url schema"):  // HPE_INVALID_URL
            return .schemeGrammar
        case 7 where isAbsoluteWithoutAuthority(head.target):
            return .absoluteURIWithoutAuthority
        case 11 where !head.fields.values(of: "Content-Length").isEmpty
            && head.fields.values(of: "Content-Length").allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy { (0x30...0x39).contains($0) } }):
            // HPE_INVALID_CONTENT_LENGTH, yet the value NetLab read (whitespace trimmed) is digits.
            return .whitespaceAroundContentLength
        case _ where reason.contains("chunk extension"):
            return .chunkExtensionGrammar
        case 8 where reason.contains("method"):  // HPE_INVALID_CONSTANT: an RTSP method (ANNOUNCE…) in HTTP
            return .extensionMethod
        case 9:  // HPE_INVALID_VERSION
            return head.version.major == 1 && head.version.minor > 1 ? .higherMinorVersion : nil
        default:
            return nil
        }
    }

    /// `scheme ":"` followed by anything but `//`: an absolute-URI whose hier-part has no authority.
    static func isAbsoluteWithoutAuthority(_ target: String) -> Bool {
        let bytes = Array(target.utf8)
        guard let first = bytes.first, first.isASCIILetter, let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else { return false }
        let schemeOK = bytes[..<colon].allSatisfy { $0.isASCIILetter || (0x30...0x39).contains($0) || $0 == 0x2B || $0 == 0x2D || $0 == 0x2E }
        let scheme = String(decoding: bytes[..<colon], as: UTF8.self).lowercased()
        return schemeOK && scheme != "http" && scheme != "https" && !bytes[(colon + 1)...].starts(with: Array("//".utf8))
    }

    /// llhttp's request methods (llhttp.h, HTTP_METHOD_MAP).
    static let known: Set<String> = [
        "DELETE", "GET", "HEAD", "POST", "PUT", "CONNECT", "OPTIONS", "TRACE", "COPY", "LOCK", "MKCOL", "MOVE",
        "PROPFIND", "PROPPATCH", "SEARCH", "UNLOCK", "BIND", "REBIND", "UNBIND", "ACL", "REPORT", "MKACTIVITY",
        "CHECKOUT", "MERGE", "M-SEARCH", "NOTIFY", "SUBSCRIBE", "UNSUBSCRIBE", "PATCH", "PURGE", "MKCALENDAR",
        "LINK", "UNLINK", "SOURCE", "QUERY",
    ]
}

/// A request as the transcript shows it (the same lines, in the same order, as lldiff.c).
func transcript(_ head: HTTPRequestHead, body: [UInt8], trailers: HTTPFields?) -> String {
    var lines = ["method \(head.method.rawValue)", "target \(head.target)"]
    for field in head.fields { lines.append("field \(field.name.lowercased()): \(trimmed(field.value))") }
    lines.append("version \(head.version.major).\(head.version.minor)")
    for field in trailers ?? HTTPFields() { lines.append("trailer \(field.name.lowercased()): \(trimmed(field.value))") }
    let hash = SplitPoints.fnv1a(body)
    let hex = String(hash, radix: 16)
    lines.append("body \(body.count) \(String(repeating: "0", count: 16 - hex.count) + hex)")
    lines.append("end")
    return lines.joined(separator: "\n") + "\n"
}

func trimmed(_ value: String) -> String {
    var scalars = Substring(value)
    while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
    while let last = scalars.last, last == " " || last == "\t" { scalars.removeLast() }
    return String(scalars)
}

func fuzzDifferential(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    let ours = ParserRun.feed([input[...]], to: HTTPMessageParser(parsing: .requests))
    var theirs = input.withUnsafeBufferPointer { lldiff_parse_requests($0.baseAddress, $0.count) }
    defer { lldiff_free(&theirs) }
    // The transcript also holds the start of the request llhttp refused: keep the complete ones.
    let theirMessages = String(cString: theirs.transcript).split(separator: "\u{1E}", omittingEmptySubsequences: false)
        .prefix(Int(theirs.messages)).map(String.init)
    let reason = String(cString: theirs.reason)

    let messages = ours.messages
    for (index, message) in messages.enumerated() {
        guard case .requestHead(let head) = message.head else { continue }
        let mine = transcript(head, body: message.body, trailers: message.trailers)
        guard index < theirMessages.count else {
            // llhttp stopped before this request: an upgrade/CONNECT pause ends the comparison
            // (what follows is not HTTP); a refusal must be sanctioned.
            if theirs.error == 22 { return 0 }
            if Sanctioned.explains(
                llhttpError: theirs.error, reason: reason, netlab: head, trailers: message.trailers,
                previous: index > 0 ? messages[index - 1].trailers : nil) != nil { return 0 }
            let verdict = theirs.error == 0 ? "is still reading it (NetLab's message ended where llhttp's did not)" : "refuses it (error \(theirs.error): \(reason))"
            Oracle.require(false, "NetLab accepts request \(index + 1), llhttp \(verdict):\n\(mine)")
            return 0
        }
        Oracle.require(theirMessages[index] == mine, "request \(index + 1) reads differently\nNetLab:\n\(mine)llhttp:\n\(theirMessages[index])")
    }
    return 0
}

extension UInt8 {
    fileprivate var isASCIILetter: Bool { (0x41...0x5A).contains(self) || (0x61...0x7A).contains(self) }
}
