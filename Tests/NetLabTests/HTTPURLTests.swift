import Testing

@testable import NetLab

/// The client's URLs (RFC 3986 §3): what parses, what prints back, and what is refused and why.
@Suite("HTTPURL")
struct HTTPURLTests {
    static let parsing: [(text: String, host: String, port: UInt16, target: String)] = [
        ("http://localhost:8080/v2/charge", "localhost", 8080, "/v2/charge"),
        ("https://gateway.test", "gateway.test", 443, "/"),
        ("HTTPS://Gateway.Test?x=1", "Gateway.Test", 443, "/?x=1"),
        ("http://127.0.0.1/a#fragment", "127.0.0.1", 80, "/a"),
        ("http://[::1]:9000/status", "::1", 9000, "/status"),
        ("http://[2001:db8::7]/", "2001:db8::7", 80, "/"),
        ("http://a-b_c~d.%41!$&'()*+,;=/", "a-b_c~d.%41!$&'()*+,;=", 80, "/"),
    ]

    @Test("URLs that parse, and print as a URL that parses the same", arguments: parsing.map(\.text))
    func parses(text: String) throws {
        let row = Self.parsing.first { $0.text == text }!
        let url = try HTTPURL(text)
        #expect(url.host == row.host)
        #expect(url.port == row.port)
        #expect(url.target == row.target)
        #expect(try HTTPURL(url.description) == url)
    }

    /// The second row was found by the `url-form` fuzz target: a host with `]` and bytes no
    /// host may hold parsed, and printed as a URL that did not parse.
    static let refused: [(text: String, reason: String)] = [
        ("http://a\u{B4}\u{B4}b.:g]\u{A8}:234/x", "the host is not"),
        ("http://[a]b]:234/", "unexpected text after the IPv6 host"),
        ("http://[zz::1]/", "the host is not"),
        ("http://a b/", "the host is not"),
        ("http://a<b>/", "the host is not"),
        ("http://[::1/", "unclosed [ in an IPv6 host"),
        ("ftp://host/", "only http and https"),
        ("host/path", "no scheme"),
        ("http://user@host/", "credentials"),
        ("http://host:0/", "is not 1-65535"),
        ("http://host:99999/", "is not 1-65535"),
        ("http://:80/", "no host"),
        ("http://host/a b", "percent-encode"),
    ]

    @Test("URLs refused, each saying what is wrong", arguments: refused.map(\.text))
    func refuses(text: String) {
        let expected = Self.refused.first { $0.text == text }!.reason
        do {
            let url = try HTTPURL(text)
            Issue.record("parsed as \(url)")
        } catch {
            guard case .invalidURL(let given, let reason) = error else { Issue.record("\(error)"); return }
            #expect(given == text)
            #expect(reason.contains(expected), "\(reason)")
        }
    }

    /// RFC 9110 §7.2 Host = uri-host [ ":" port ]: what a server accepts in the Host field.
    static let hostValues: [(value: String, valid: Bool)] = [
        ("localhost", true), ("localhost:8080", true), ("127.0.0.1:80", true), ("[::1]:443", true), ("[2001:DB8::7]", true),
        ("[v1.fe]", true), ("a-b_c~d.%41!$&'()*+,;=", true), ("", true), ("host:", true),
        ("a b", false), ("[]", false), ("[::1", false), ("[::1]x", false), ("[zz::1]", false), ("host:8a", false),
        ("h\u{E9}", false), ("a/b", false), ("host:80:90", false), ("a@b", false),
    ]

    @Test("Host field values: uri-host [ \":\" port ] (RFC 9110 §7.2)", arguments: hostValues.map(\.value))
    func hostValue(value: String) {
        let valid = Self.hostValues.first { $0.value == value }!.valid
        #expect(HTTPURL.isHostValue(value) == valid, "\(value)")
    }
}
