/// An `http://` or `https://` URL, split into what a client needs (RFC 3986 §3):
/// `scheme://host[:port]/path?query`. Userinfo and fragments are refused and dropped respectively.
public struct HTTPURL: Hashable, Sendable, CustomStringConvertible {
    public enum Scheme: String, Sendable {
        case http, https

        public var defaultPort: UInt16 { self == .http ? 80 : 443 }
    }

    public var scheme: Scheme
    /// The host as written, without brackets for IPv6 (`::1`, `localhost`, `127.0.0.1`).
    public var host: String
    public var port: UInt16
    /// The request-target to send: path and query, at least "/".
    public var target: String

    public init(scheme: Scheme, host: String, port: UInt16? = nil, target: String = "/") {
        self.scheme = scheme
        self.host = host
        self.port = port ?? scheme.defaultPort
        self.target = target
    }

    /// Parses `text`; throws ``HTTPClientError/invalidURL(_:reason:)`` saying what is wrong.
    public init(_ text: String) throws(HTTPClientError) {
        guard let separator = text.range(of: "://") else { throw .invalidURL(text, reason: "no scheme (http:// or https://)") }
        guard let scheme = Scheme(rawValue: text[..<separator.lowerBound].lowercased()) else {
            throw .invalidURL(text, reason: "only http and https are supported")
        }
        var rest = text[separator.upperBound...]
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }  // a fragment is never sent
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var target = String(rest[authorityEnd...])
        if target.isEmpty { target = "/" } else if target.hasPrefix("?") { target = "/" + target }
        guard !authority.contains("@") else { throw .invalidURL(text, reason: "credentials in the URL are not supported; use basicAuthorization") }
        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw .invalidURL(text, reason: "unclosed [ in an IPv6 host") }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw .invalidURL(text, reason: "unexpected text after the IPv6 host") }
                portText = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        guard !host.isEmpty else { throw .invalidURL(text, reason: "no host") }
        guard Self.isHostValue(String(authority)) else {
            throw .invalidURL(text, reason: "the host is not a name, an IPv4 address or a bracketed IPv6 address (RFC 3986 §3.2.2)")
        }
        var port: UInt16?
        if let portText {
            guard let value = UInt16(portText), value > 0 else { throw .invalidURL(text, reason: "port \"\(portText)\" is not 1-65535") }
            port = value
        }
        guard target.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw .invalidURL(text, reason: "the path holds spaces or non-ASCII bytes; percent-encode them")
        }
        self.init(scheme: scheme, host: String(host), port: port, target: target)
    }

    /// `host:port` as the Host field wants it (the port omitted when it is the default).
    public var hostField: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return port == scheme.defaultPort ? name : "\(name):\(port)"
    }

    public var description: String { "\(scheme.rawValue)://\(hostField)\(target)" }

    /// `uri-host [ ":" port ]` (RFC 3986 §3.2.2–3): an IP-literal in brackets, or a reg-name of
    /// unreserved, percent-encoded and sub-delim characters (an IPv4 address is one), and an
    /// optional run of digits. Empty is allowed (RFC 9112 §3.2: a target without an authority).
    static func isHostValue(_ value: String) -> Bool {
        if let answer = value.utf8.withContiguousStorageIfAvailable(isHostValue(bytes:)) { return answer }
        return Array(value.utf8).withUnsafeBufferPointer(isHostValue(bytes:))
    }

    /// ``isHostValue(_:)`` over the bytes: it runs for every request a server answers.
    static func isHostValue(bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        if let first = bytes.first, first == UInt8(ascii: "[") {
            guard let close = bytes.firstIndex(of: UInt8(ascii: "]")), close > 1 else { return false }
            for byte in bytes[1..<close] {
                guard isHexDigit(byte) || byte == UInt8(ascii: ":") || byte == UInt8(ascii: ".") || byte | 0x20 == UInt8(ascii: "v") else {
                    return false
                }
            }
            i = close + 1
        } else {
            while i < bytes.count, bytes[i] != UInt8(ascii: ":") {
                guard isRegNameByte(bytes[i]) else { return false }
                i += 1
            }
        }
        guard i < bytes.count else { return true }
        guard bytes[i] == UInt8(ascii: ":") else { return false }
        return bytes[(i + 1)...].allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || (byte | 0x20 >= UInt8(ascii: "a") && byte | 0x20 <= UInt8(ascii: "f"))
    }

    /// unreserved / sub-delims / "%" (RFC 3986 §3.2.2 reg-name; percent-encodings checked loosely).
    private static func isRegNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"): true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "!"), UInt8(ascii: "$"),
            UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"),
            UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="), UInt8(ascii: "%"):
            true
        default: false
        }
    }
}
