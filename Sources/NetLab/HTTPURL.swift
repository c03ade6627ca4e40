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
}
