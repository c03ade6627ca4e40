/// Everything the parser rejects: one case per rule broken, each with the byte offset (counted
/// from the first byte the parser ever received) where it noticed, the rule's RFC section
/// (``rule``) and the status a server should answer with (``status``).
public enum HTTPParseError: Error, Hashable, Sendable, CustomStringConvertible {
    // MARK: Start line
    /// The method is not a token (RFC 9112 §3.1, RFC 9110 §9.1).
    case invalidMethod(offset: Int)
    /// The request-target holds a byte no target form allows, or is empty (RFC 9112 §3.2).
    case invalidRequestTarget(offset: Int)
    /// Not `HTTP/` DIGIT `.` DIGIT, or not exactly one SP where one is required (RFC 9112 §2.3, §3, §4).
    case invalidVersion(offset: Int)
    /// A well-formed version other than HTTP/1.x (RFC 9110 §6.2; answer 505).
    case unsupportedVersion(HTTPVersion, offset: Int)
    /// The status-code is not three digits (RFC 9112 §4).
    case invalidStatusCode(offset: Int)
    /// The reason-phrase holds a control byte (RFC 9112 §4).
    case invalidReasonPhrase(offset: Int)
    /// The request-line is longer than the limit (RFC 9112 §3; answer 414).
    case requestLineTooLong(limit: Int, offset: Int)

    // MARK: Line endings
    /// A CR not followed by LF (RFC 9112 §2.2: a bare CR is invalid).
    case bareCR(offset: Int)
    /// An LF without the CR before it (RFC 9112 §2.2; accepted only with ``HTTPParserOptions/allowBareLF``).
    case bareLF(offset: Int)

    // MARK: Fields
    /// A field name is empty or holds a non-token byte, or a field line has no colon (RFC 9110 §5.1, RFC 9112 §5).
    case invalidFieldName(offset: Int)
    /// Whitespace between a field name and its colon (RFC 9112 §5.1: MUST reject with 400).
    case whitespaceBeforeColon(offset: Int)
    /// A field line starting with SP or HTAB: obsolete line folding (RFC 9112 §5.2).
    case obsoleteLineFolding(offset: Int)
    /// A byte not allowed in a field value: NUL, CR, LF or another control (RFC 9110 §5.5).
    case invalidFieldValue(byte: UInt8, offset: Int)
    /// The head (start line and fields), or the trailers, exceed the size limit (answer 431).
    case headTooLarge(limit: Int, offset: Int)
    /// More field lines than the limit (answer 431).
    case tooManyFields(limit: Int, offset: Int)

    // MARK: Framing
    /// Both Content-Length and Transfer-Encoding: the smuggling case (RFC 9112 §6.1, §6.3 item 3).
    case contentLengthWithTransferEncoding(offset: Int)
    /// A second Content-Length field (RFC 9112 §6.3 item 5; NetLab rejects even equal values).
    case duplicateContentLength(offset: Int)
    /// Content-Length is not 1*DIGIT, or does not fit in 64 bits (RFC 9110 §8.6, RFC 9112 §6.3 item 5).
    case invalidContentLength(offset: Int)
    /// A request whose Transfer-Encoding does not end in chunked (RFC 9112 §6.3 item 4), or that
    /// applies chunked twice (RFC 9112 §6.1).
    case transferEncodingNotChunkedLast(offset: Int)
    /// A Transfer-Encoding value that is not a list of `coding *( ";" name=value )`, or that gives
    /// chunked a parameter (RFC 9112 §6.1, RFC 9110 §10.1.4).
    case invalidTransferEncoding(offset: Int)
    /// A CONNECT request with Content-Length or Transfer-Encoding: CONNECT has no content
    /// (RFC 9110 §9.3.6), so such a message means two readers may disagree where the tunnel starts.
    case framingOnConnect(offset: Int)
    /// More empty lines before a request-line than the parser skips (RFC 9112 §2.2).
    case tooManyEmptyLines(limit: Int, offset: Int)
    /// A request transfer coding this parser cannot decode, e.g. gzip (RFC 9112 §6.1; answer 501).
    case unsupportedTransferCoding(offset: Int)
    /// Transfer-Encoding in an HTTP/1.0 message: faulty framing (RFC 9112 §6.1).
    case transferEncodingInHTTP10(offset: Int)
    /// The body is larger than the limit (answer 413).
    case bodyTooLarge(limit: Int, offset: Int)

    // MARK: Chunked coding
    /// The chunk-size is missing or not hex digits (RFC 9112 §7.1).
    case invalidChunkSize(offset: Int)
    /// The chunk-size does not fit in 64 bits (RFC 9112 §7.1: recipients MUST anticipate overflow).
    case chunkSizeOverflow(offset: Int)
    /// A chunk extension that is not `;name[=token|quoted-string]` (RFC 9112 §7.1.1).
    case invalidChunkExtension(offset: Int)
    /// A chunk line's extensions exceed the limit (RFC 9112 §7.1.1: servers ought to limit them).
    case chunkExtensionTooLong(limit: Int, offset: Int)
    /// Chunk data not followed by CRLF (RFC 9112 §7.1).
    case missingCRLFAfterChunk(offset: Int)

    // MARK: Connection
    /// Bytes after a message that closed the connection (RFC 9112 §9.6).
    case dataAfterClose(offset: Int)
    /// The stream ended in the middle of a message (RFC 9112 §8).
    case incompleteMessage(offset: Int)

    /// Where in the input the parser noticed, counted from the first byte it received.
    public var offset: Int {
        switch self {
        case .invalidMethod(let o), .invalidRequestTarget(let o), .invalidVersion(let o),
            .unsupportedVersion(_, let o), .invalidStatusCode(let o), .invalidReasonPhrase(let o),
            .requestLineTooLong(_, let o), .bareCR(let o), .bareLF(let o), .invalidFieldName(let o),
            .whitespaceBeforeColon(let o), .obsoleteLineFolding(let o), .invalidFieldValue(_, let o),
            .headTooLarge(_, let o), .tooManyFields(_, let o), .contentLengthWithTransferEncoding(let o),
            .duplicateContentLength(let o), .invalidContentLength(let o), .transferEncodingNotChunkedLast(let o),
            .unsupportedTransferCoding(let o), .transferEncodingInHTTP10(let o), .bodyTooLarge(_, let o),
            .invalidTransferEncoding(let o), .framingOnConnect(let o), .tooManyEmptyLines(_, let o),
            .invalidChunkSize(let o), .chunkSizeOverflow(let o), .invalidChunkExtension(let o),
            .chunkExtensionTooLong(_, let o), .missingCRLFAfterChunk(let o), .dataAfterClose(let o),
            .incompleteMessage(let o):
            return o
        }
    }

    /// The same error reported `delta` bytes later in the stream (for a parser that was fed
    /// mid-stream, or for comparing runs with a prefix).
    public func shifted(by delta: Int) -> HTTPParseError {
        let o = offset + delta
        switch self {
        case .invalidMethod: return .invalidMethod(offset: o)
        case .invalidRequestTarget: return .invalidRequestTarget(offset: o)
        case .invalidVersion: return .invalidVersion(offset: o)
        case .unsupportedVersion(let v, _): return .unsupportedVersion(v, offset: o)
        case .invalidStatusCode: return .invalidStatusCode(offset: o)
        case .invalidReasonPhrase: return .invalidReasonPhrase(offset: o)
        case .requestLineTooLong(let limit, _): return .requestLineTooLong(limit: limit, offset: o)
        case .bareCR: return .bareCR(offset: o)
        case .bareLF: return .bareLF(offset: o)
        case .invalidFieldName: return .invalidFieldName(offset: o)
        case .whitespaceBeforeColon: return .whitespaceBeforeColon(offset: o)
        case .obsoleteLineFolding: return .obsoleteLineFolding(offset: o)
        case .invalidFieldValue(let byte, _): return .invalidFieldValue(byte: byte, offset: o)
        case .headTooLarge(let limit, _): return .headTooLarge(limit: limit, offset: o)
        case .tooManyFields(let limit, _): return .tooManyFields(limit: limit, offset: o)
        case .contentLengthWithTransferEncoding: return .contentLengthWithTransferEncoding(offset: o)
        case .duplicateContentLength: return .duplicateContentLength(offset: o)
        case .invalidContentLength: return .invalidContentLength(offset: o)
        case .transferEncodingNotChunkedLast: return .transferEncodingNotChunkedLast(offset: o)
        case .unsupportedTransferCoding: return .unsupportedTransferCoding(offset: o)
        case .invalidTransferEncoding: return .invalidTransferEncoding(offset: o)
        case .framingOnConnect: return .framingOnConnect(offset: o)
        case .tooManyEmptyLines(let limit, _): return .tooManyEmptyLines(limit: limit, offset: o)
        case .transferEncodingInHTTP10: return .transferEncodingInHTTP10(offset: o)
        case .bodyTooLarge(let limit, _): return .bodyTooLarge(limit: limit, offset: o)
        case .invalidChunkSize: return .invalidChunkSize(offset: o)
        case .chunkSizeOverflow: return .chunkSizeOverflow(offset: o)
        case .invalidChunkExtension: return .invalidChunkExtension(offset: o)
        case .chunkExtensionTooLong(let limit, _): return .chunkExtensionTooLong(limit: limit, offset: o)
        case .missingCRLFAfterChunk: return .missingCRLFAfterChunk(offset: o)
        case .dataAfterClose: return .dataAfterClose(offset: o)
        case .incompleteMessage: return .incompleteMessage(offset: o)
        }
    }

    /// The status code a server answers this error with (RFC 9110 §15).
    public var status: Int {
        switch self {
        case .requestLineTooLong: 414
        case .headTooLarge, .tooManyFields: 431
        case .bodyTooLarge: 413
        case .unsupportedTransferCoding: 501
        case .unsupportedVersion: 505
        default: 400
        }
    }

    /// The rule broken, as an RFC section.
    public var rule: String {
        switch self {
        case .invalidMethod: "RFC 9112 §3.1"
        case .invalidRequestTarget: "RFC 9112 §3.2"
        case .invalidVersion: "RFC 9112 §2.3"
        case .unsupportedVersion: "RFC 9110 §6.2"
        case .invalidStatusCode, .invalidReasonPhrase: "RFC 9112 §4"
        case .requestLineTooLong: "RFC 9112 §3"
        case .bareCR, .bareLF: "RFC 9112 §2.2"
        case .invalidFieldName: "RFC 9110 §5.1"
        case .whitespaceBeforeColon: "RFC 9112 §5.1"
        case .obsoleteLineFolding: "RFC 9112 §5.2"
        case .invalidFieldValue: "RFC 9110 §5.5"
        case .headTooLarge, .tooManyFields: "RFC 6585 §5"
        case .contentLengthWithTransferEncoding: "RFC 9112 §6.1"
        case .duplicateContentLength, .invalidContentLength: "RFC 9112 §6.3"
        case .transferEncodingNotChunkedLast: "RFC 9112 §6.3"
        case .unsupportedTransferCoding, .transferEncodingInHTTP10, .invalidTransferEncoding: "RFC 9112 §6.1"
        case .framingOnConnect: "RFC 9110 §9.3.6"
        case .tooManyEmptyLines: "RFC 9112 §2.2"
        case .bodyTooLarge: "RFC 9110 §15.5.14"
        case .invalidChunkSize, .chunkSizeOverflow, .missingCRLFAfterChunk: "RFC 9112 §7.1"
        case .invalidChunkExtension, .chunkExtensionTooLong: "RFC 9112 §7.1.1"
        case .dataAfterClose: "RFC 9112 §9.6"
        case .incompleteMessage: "RFC 9112 §8"
        }
    }

    /// What went wrong, in words.
    public var summary: String {
        switch self {
        case .invalidMethod: "the method is not a token"
        case .invalidRequestTarget: "invalid byte in the request-target (or empty target)"
        case .invalidVersion: "expected HTTP/<digit>.<digit> with single spaces around it"
        case .unsupportedVersion(let v, _): "\(v) is not HTTP/1.x"
        case .invalidStatusCode: "the status-code is not three digits"
        case .invalidReasonPhrase: "control byte in the reason-phrase"
        case .requestLineTooLong(let limit, _): "the request-line is longer than \(limit) bytes"
        case .bareCR: "CR not followed by LF"
        case .bareLF: "LF without a CR before it"
        case .invalidFieldName: "invalid field name (empty, non-token byte, or no colon)"
        case .whitespaceBeforeColon: "whitespace between the field name and the colon"
        case .obsoleteLineFolding: "a field line starts with whitespace (obsolete line folding)"
        case .invalidFieldValue(let byte, _): "byte 0x\(String(byte, radix: 16)) is not allowed in a field value"
        case .headTooLarge(let limit, _): "the head is larger than \(limit) bytes"
        case .tooManyFields(let limit, _): "more than \(limit) field lines"
        case .contentLengthWithTransferEncoding: "both Content-Length and Transfer-Encoding"
        case .duplicateContentLength: "more than one Content-Length"
        case .invalidContentLength: "Content-Length is not a decimal number that fits in 64 bits"
        case .transferEncodingNotChunkedLast: "Transfer-Encoding of a request must end with chunked, once"
        case .unsupportedTransferCoding: "a transfer coding other than chunked"
        case .invalidTransferEncoding: "malformed Transfer-Encoding (or a parameter on chunked)"
        case .framingOnConnect: "a CONNECT request with Content-Length or Transfer-Encoding"
        case .tooManyEmptyLines(let limit, _): "more than \(limit) empty lines before the request-line"
        case .transferEncodingInHTTP10: "Transfer-Encoding in an HTTP/1.0 message"
        case .bodyTooLarge(let limit, _): "the body is larger than \(limit) bytes"
        case .invalidChunkSize: "the chunk-size is not hexadecimal digits"
        case .chunkSizeOverflow: "the chunk-size does not fit in 64 bits"
        case .invalidChunkExtension: "malformed chunk extension"
        case .chunkExtensionTooLong(let limit, _): "chunk extensions longer than \(limit) bytes"
        case .missingCRLFAfterChunk: "chunk data not followed by CRLF"
        case .dataAfterClose: "data after a message that closed the connection"
        case .incompleteMessage: "the stream ended in the middle of a message"
        }
    }

    public var description: String { "\(summary) at byte \(offset) (\(rule); answer \(status))" }
}
