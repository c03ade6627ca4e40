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
        var rest = Substring(value)
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return false }
            let literal = rest[rest.index(after: rest.startIndex)..<close]
            guard !literal.isEmpty, literal.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." || $0 == "v" || $0 == "V" }) else { return false }
            rest = rest[rest.index(after: close)...]
        } else {
            let end = rest.firstIndex(of: ":") ?? rest.endIndex
            let name = rest[..<end]
            let allowed = Set("-._~!$&'()*+,;=%".utf8)
            guard name.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || allowed.contains($0) })
            else { return false }
            rest = rest[end...]
        }
        guard !rest.isEmpty else { return true }
        guard rest.first == ":" else { return false }
        return rest.dropFirst().allSatisfy { $0.isASCII && $0.isNumber }
    }
}
