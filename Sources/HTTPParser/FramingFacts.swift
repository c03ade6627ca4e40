/// What a head's fields say about framing and the connection, read in one pass over the
/// fields: Content-Length, Transfer-Encoding, Connection, Expect, Upgrade (RFC 9112 §6, §9;
/// RFC 9110 §7.6.1, §7.8, §10.1.1). Errors name the field's offset.
struct FramingFacts {
    var contentLength: UInt64?
    var contentLengthOffset = 0
    /// Transfer-Encoding was present (in any number of fields).
    var hasTransferEncoding = false
    var transferEncodingOffset = 0
    /// The last transfer coding is chunked, and chunked appears exactly once.
    var chunkedLast = false
    var chunkedCount = 0
    /// A coding other than chunked appeared.
    var otherCoding = false
    var connectionClose = false
    var connectionKeepAlive = false
    var upgradeRequested = false
    var hasUpgradeField = false
    var expectsContinue = false

    /// Takes one field line into account, as soon as it has been scanned, so a framing error
    /// is reported at the field that causes it even if the head never completes.
    /// `nameOffset`/`valueOffset` are stream offsets for errors.
    mutating func observe(
        name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>, nameOffset: Int, valueOffset: Int
    ) throws(HTTPParseError) {
        switch name.count {
        case 14 where Grammar.equalsLowercase(name, "content-length"):
            guard contentLength == nil else { throw .duplicateContentLength(offset: nameOffset) }
            // RFC 9112 §6.3 item 3: both present "ought to be handled as an error" — the classic
            // request-smuggling setup.
            if hasTransferEncoding { throw .contentLengthWithTransferEncoding(offset: nameOffset) }
            contentLength = try Self.parseContentLength(value, offset: valueOffset)
            contentLengthOffset = nameOffset
        case 17 where Grammar.equalsLowercase(name, "transfer-encoding"):
            if contentLength != nil { throw .contentLengthWithTransferEncoding(offset: nameOffset) }
            if !hasTransferEncoding { transferEncodingOffset = nameOffset }
            hasTransferEncoding = true
            try readTransferCodings(value, offset: valueOffset)
        case 10 where Grammar.equalsLowercase(name, "connection"):
            Self.forEachListElement(value) { option in
                if Grammar.equalsLowercase(option, "close") { connectionClose = true }
                if Grammar.equalsLowercase(option, "keep-alive") { connectionKeepAlive = true }
                if Grammar.equalsLowercase(option, "upgrade") { upgradeRequested = true }
            }
        case 6 where Grammar.equalsLowercase(name, "expect"):
            if Grammar.equalsLowercase(value, "100-continue") { expectsContinue = true }
        case 7 where Grammar.equalsLowercase(name, "upgrade"):
            hasUpgradeField = true
        default:
            break
        }
    }

    /// The checks that need the whole head.
    func finish(version: HTTPVersion) throws(HTTPParseError) {
        // RFC 9112 §6.1: "A server or client that receives an HTTP/1.0 message containing a
        // Transfer-Encoding header field MUST treat the message as if the framing is faulty".
        if hasTransferEncoding && version == .http1_0 {
            throw .transferEncodingInHTTP10(offset: transferEncodingOffset)
        }
    }

    /// RFC 9112 §6.3 for requests: chunked must be the last coding (400 otherwise); codings
    /// other than chunked are not implemented (501); no framing field means no body.
    func requestFraming(limits: HTTPLimits) throws(HTTPParseError) -> HTTPBodyFraming {
        if hasTransferEncoding {
            guard chunkedLast && chunkedCount == 1 else {
                throw .transferEncodingNotChunkedLast(offset: transferEncodingOffset)
            }
            guard !otherCoding else { throw .unsupportedTransferCoding(offset: transferEncodingOffset) }
            return .chunked
        }
        return try lengthFraming(limits: limits) ?? HTTPBodyFraming.none
    }

    /// RFC 9112 §6.3 for responses that may have a body: chunked last → chunked; another
    /// Transfer-Encoding → read until close (item 4); Content-Length; else until close (item 8).
    func responseFraming(limits: HTTPLimits) throws(HTTPParseError) -> HTTPBodyFraming {
        if hasTransferEncoding { return chunkedLast && chunkedCount == 1 ? .chunked : .untilClose }
        return try lengthFraming(limits: limits) ?? .untilClose
    }

    private func lengthFraming(limits: HTTPLimits) throws(HTTPParseError) -> HTTPBodyFraming? {
        guard let contentLength else { return nil }
        if contentLength > UInt64(limits.maxBodySize) {
            throw .bodyTooLarge(limit: limits.maxBodySize, offset: contentLengthOffset)
        }
        return contentLength == 0 ? HTTPBodyFraming.none : .length(contentLength)
    }

    /// RFC 9112 §9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with "keep-alive".
    func keepAlive(version: HTTPVersion) -> Bool {
        if connectionClose { return false }
        return version.minor >= 1 || connectionKeepAlive
    }

    /// `Content-Length = 1*DIGIT` (RFC 9110 §8.6): no sign, no spaces inside, no list, and it
    /// must fit in 64 bits.
    static func parseContentLength(_ value: UnsafeBufferPointer<UInt8>, offset: Int) throws(HTTPParseError) -> UInt64 {
        guard !value.isEmpty else { throw .invalidContentLength(offset: offset) }
        var result: UInt64 = 0
        for (i, byte) in value.enumerated() {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else {
                throw .invalidContentLength(offset: offset + i)
            }
            let (times10, o1) = result.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !o1 && !o2 else { throw .invalidContentLength(offset: offset + i) }
            result = sum
        }
        return result
    }

    /// `Transfer-Encoding = #transfer-coding` (RFC 9112 §6.1) with
    ///
    ///     transfer-coding    = token *( OWS ";" OWS transfer-parameter )
    ///     transfer-parameter = token BWS "=" BWS ( token / quoted-string )
    ///
    /// (RFC 9110 §10.1.4), read strictly: anything left over after a coding, a comma inside a
    /// quoted string, or a parameter on chunked (which defines none) makes the field invalid
    /// rather than letting the first token through — "chunked x" is not chunked, it is an error,
    /// because another reader may well see no chunked at all.
    private mutating func readTransferCodings(_ value: UnsafeBufferPointer<UInt8>, offset: Int) throws(HTTPParseError) {
        try Self.forEachTransferCoding(value, offset: offset) { isChunked in
            if chunkedCount > 0 { chunkedLast = false }
            if isChunked {
                chunkedCount += 1
                chunkedLast = true
            } else {
                otherCoding = true
                chunkedLast = false
            }
        }
    }

    /// Calls `body` with "is it chunked?" for each coding in a Transfer-Encoding value, in order.
    static func forEachTransferCoding(
        _ value: UnsafeBufferPointer<UInt8>, offset: Int, _ body: (Bool) -> Void
    ) throws(HTTPParseError) {
        enum Phase { case beforeCoding, coding, afterCoding, parameterStart, parameterName, afterParameterName,
            valueStart, token, quoted, quotedPair }
        var phase = Phase.beforeCoding
        var codingStart = 0
        var isChunked = false
        let tchar = Grammar.tcharTable
        for (i, byte) in value.enumerated() {
            let ows = Grammar.isOWS(byte)
            switch phase {
            case .beforeCoding:
                // Empty list elements are allowed and ignored (RFC 9110 §5.6.1).
                if ows || byte == UInt8(ascii: ",") { continue }
                guard tchar[Int(byte)] else { throw .invalidTransferEncoding(offset: offset + i) }
                codingStart = i
                phase = .coding
            case .coding:
                if tchar[Int(byte)] { continue }
                isChunked = Grammar.equalsLowercase(UnsafeBufferPointer(rebasing: value[codingStart..<i]), "chunked")
                body(isChunked)
                phase = .afterCoding
                fallthrough
            case .afterCoding, .token:
                if phase == .token && tchar[Int(byte)] { continue }
                if ows {
                    phase = .afterCoding
                } else if byte == UInt8(ascii: ",") {
                    phase = .beforeCoding
                } else if byte == UInt8(ascii: ";") && !isChunked {
                    phase = .parameterStart
                } else {
                    throw .invalidTransferEncoding(offset: offset + i)
                }
            case .parameterStart:
                if ows { continue }
                guard tchar[Int(byte)] else { throw .invalidTransferEncoding(offset: offset + i) }
                phase = .parameterName
            case .parameterName, .afterParameterName:
                if phase == .parameterName && tchar[Int(byte)] { continue }
                if ows {
                    phase = .afterParameterName
                } else if byte == UInt8(ascii: "=") {
                    phase = .valueStart
                } else {
                    throw .invalidTransferEncoding(offset: offset + i)
                }
            case .valueStart:
                if ows { continue }
                if byte == UInt8(ascii: "\"") {
                    phase = .quoted
                } else if tchar[Int(byte)] {
                    phase = .token
                } else {
                    throw .invalidTransferEncoding(offset: offset + i)
                }
            case .quoted:
                if byte == UInt8(ascii: "\"") {
                    phase = .afterCoding
                } else if byte == UInt8(ascii: "\\") {
                    phase = .quotedPair
                } else if !Grammar.qdtext[Int(byte)] {
                    throw .invalidTransferEncoding(offset: offset + i)
                }
            case .quotedPair:
                guard Grammar.fieldValueByte[Int(byte)] else { throw .invalidTransferEncoding(offset: offset + i) }
                phase = .quoted
            }
        }
        switch phase {
        case .beforeCoding, .afterCoding, .token:
            break
        case .coding:
            body(Grammar.equalsLowercase(UnsafeBufferPointer(rebasing: value[codingStart...]), "chunked"))
        case .parameterStart, .parameterName, .afterParameterName, .valueStart, .quoted, .quotedPair:
            throw .invalidTransferEncoding(offset: offset + value.count)
        }
    }

    /// Calls `body` with each non-empty element of a comma-separated list, OWS trimmed
    /// (RFC 9110 §5.6.1: recipients accept and ignore empty elements).
    static func forEachListElement(_ value: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        var start = 0
        while start <= value.count {
            var end = start
            while end < value.count && value[end] != UInt8(ascii: ",") { end += 1 }
            var a = start, b = end
            while a < b && Grammar.isOWS(value[a]) { a += 1 }
            while b > a && Grammar.isOWS(value[b - 1]) { b -= 1 }
            if a < b { body(UnsafeBufferPointer(rebasing: value[a..<b])) }
            start = end + 1
        }
    }
}
