/// The byte-level state machine for chunked framing (RFC 9112 §7.1): chunk-size lines with
/// their extensions, and the CRLF after each chunk's data. The data itself is counted by the
/// parser (``dataRemaining``) and handed out without being scanned.
///
///     chunked-body   = *chunk last-chunk trailer-section CRLF
///     chunk          = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
///     chunk-size     = 1*HEXDIG
///     last-chunk     = 1*("0") [ chunk-ext ] CRLF
///     chunk-ext      = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
///     chunk-ext-name = token
///     chunk-ext-val  = token / quoted-string
///
/// Extensions are validated and length-limited, then ignored, as RFC 9112 §7.1.1 tells a
/// recipient to do with extensions it does not understand.
struct ChunkLineScanner {
    enum Phase: UInt8 {
        case size, sizeBWS, extNameStart, extName, extAfterName, extValueStart, extToken
        case extQuoted, extQuotedPair, extAfterQuoted, lineLF, dataCR, dataLF
    }

    enum Result: Equatable {
        case needMore
        /// A chunk-size line ended; this many data bytes follow.
        case dataFollows(UInt64)
        /// The last-chunk line ended; the trailer section follows.
        case lastChunk
    }

    private(set) var phase = Phase.size
    private var size: UInt64 = 0
    private var digits = 0
    private var extensionLength = 0
    private var extensionBytesInMessage = 0
    /// Most hex digits in a chunk-size, leading zeros included.
    static let maxSizeDigits = 32
    /// Data bytes of the current chunk not yet handed out (maintained by the parser).
    var dataRemaining: UInt64 = 0

    /// Scans from the start of `bytes`; `base` is the stream offset of its first byte.
    mutating func scan(
        _ bytes: UnsafeBufferPointer<UInt8>, base: Int, allowBareLF: Bool, limits: HTTPLimits
    ) throws(HTTPParseError) -> (consumed: Int, result: Result) {
        let tchar = Grammar.tcharTable
        var i = 0
        while i < bytes.count {
            let byte = bytes[i]
            let offset = base + i
            switch phase {
            case .size:
                let digit = Grammar.hexValue[Int(byte)]
                if digit >= 0 {
                    guard size >> 60 == 0 else { throw .chunkSizeOverflow(offset: offset) }
                    size = size << 4 | UInt64(digit)
                    digits += 1
                    // Leading zeros do not grow the value; cap them so a size line stays short.
                    guard digits <= Self.maxSizeDigits else { throw .invalidChunkSize(offset: offset) }
                } else {
                    guard digits > 0 else { throw .invalidChunkSize(offset: offset) }
                    switch byte {
                    case UInt8(ascii: ";"): phase = .extNameStart
                    case Grammar.sp, Grammar.htab: phase = .sizeBWS
                    case Grammar.cr: phase = .lineLF
                    case Grammar.lf:
                        guard allowBareLF else { throw .bareLF(offset: offset) }
                        return (i + 1, endLine())
                    default: throw .invalidChunkSize(offset: offset)
                    }
                }
            case .sizeBWS:
                // BWS is only allowed before a ";": "5 \r\n" is not a chunk-size line.
                switch byte {
                case Grammar.sp, Grammar.htab: break
                case UInt8(ascii: ";"): phase = .extNameStart
                default: throw .invalidChunkSize(offset: offset)
                }
            case .extNameStart:
                if tchar[Int(byte)] {
                    phase = .extName
                } else if !Grammar.isOWS(byte) {
                    throw .invalidChunkExtension(offset: offset)
                }
            case .extName, .extToken, .extAfterName, .extAfterQuoted:
                if tchar[Int(byte)] && (phase == .extName || phase == .extToken) { break }
                switch byte {
                case UInt8(ascii: "=") where phase == .extName || phase == .extAfterName: phase = .extValueStart
                case UInt8(ascii: ";"): phase = .extNameStart
                case Grammar.sp, Grammar.htab:
                    phase = phase == .extName || phase == .extAfterName ? .extAfterName : .sizeBWS
                case Grammar.cr where phase != .extAfterName: phase = .lineLF
                case Grammar.lf:
                    guard allowBareLF else { throw .bareLF(offset: offset) }
                    return (i + 1, endLine())
                default: throw .invalidChunkExtension(offset: offset)
                }
            case .extValueStart:
                if byte == UInt8(ascii: "\"") {
                    phase = .extQuoted
                } else if tchar[Int(byte)] {
                    phase = .extToken
                } else if !Grammar.isOWS(byte) {
                    throw .invalidChunkExtension(offset: offset)
                }
            case .extQuoted:
                if byte == UInt8(ascii: "\"") {
                    phase = .extAfterQuoted
                } else if byte == UInt8(ascii: "\\") {
                    phase = .extQuotedPair
                } else if !Grammar.qdtext[Int(byte)] {
                    throw .invalidChunkExtension(offset: offset)
                }
            case .extQuotedPair:
                // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
                guard Grammar.fieldValueByte[Int(byte)] else { throw .invalidChunkExtension(offset: offset) }
                phase = .extQuoted
            case .lineLF:
                guard byte == Grammar.lf else { throw .bareCR(offset: offset - 1) }
                return (i + 1, endLine())
            case .dataCR:
                if byte == Grammar.cr {
                    phase = .dataLF
                } else if byte == Grammar.lf && allowBareLF {
                    phase = .size
                } else {
                    throw .missingCRLFAfterChunk(offset: offset)
                }
            case .dataLF:
                guard byte == Grammar.lf else { throw .missingCRLFAfterChunk(offset: offset) }
                phase = .size
            }
            if phase.isExtension {
                extensionLength += 1
                extensionBytesInMessage += 1
                if extensionLength > limits.maxChunkExtensionLength {
                    throw .chunkExtensionTooLong(limit: limits.maxChunkExtensionLength, offset: offset)
                }
                if extensionBytesInMessage > limits.maxChunkExtensionBytesPerMessage {
                    throw .chunkExtensionTooLong(limit: limits.maxChunkExtensionBytesPerMessage, offset: offset)
                }
            }
            i += 1
        }
        return (i, .needMore)
    }

    private mutating func endLine() -> Result {
        let result: Result = size == 0 ? .lastChunk : .dataFollows(size)
        phase = .dataCR
        size = 0
        digits = 0
        extensionLength = 0
        return result
    }
}

extension ChunkLineScanner.Phase {
    var isExtension: Bool {
        switch self {
        case .sizeBWS, .extNameStart, .extName, .extAfterName, .extValueStart, .extToken, .extQuoted,
            .extQuotedPair, .extAfterQuoted:
            true
        case .size, .lineLF, .dataCR, .dataLF:
            false
        }
    }
}
