import Testing

@testable import TCPSocket

@Suite("SocketAddress", .timeLimit(.minutes(3)))
struct SocketAddressTests {
    @Test("IPv4 prints as a.b.c.d:port")
    func ipv4Description() {
        #expect(SocketAddress.ipv4Loopback(port: 8080).description == "127.0.0.1:8080")
        #expect(SocketAddress.ipv4Any(port: 0).description == "0.0.0.0:0")
    }

    @Test("IPv6 prints in brackets with the port after")
    func ipv6Description() {
        #expect(SocketAddress.ipv6Loopback(port: 8080).description == "[::1]:8080")
        #expect(SocketAddress.ipv6Any(port: 443).description == "[::]:443")
    }

    @Test("numeric hosts parse without DNS", arguments: [
        ("127.0.0.1", SocketAddress.Family.ipv4, "127.0.0.1:80"),
        ("::1", .ipv6, "[::1]:80"),
        ("2001:db8::8a2e:370:7334", .ipv6, "[2001:db8::8a2e:370:7334]:80"),
        ("10.1.2.3", .ipv4, "10.1.2.3:80"),
    ])
    func numericHost(text: String, family: SocketAddress.Family, printed: String) throws {
        let address = try SocketAddress(ipAddress: text, port: 80)
        #expect(address.family == family)
        #expect(address.description == printed)
    }

    @Test("a name is not a numeric address", arguments: ["localhost", "999.1.1.1", "1.2.3.4.5", "::g", ""])
    func notNumeric(text: String) {
        #expect(throws: SocketError.invalidAddress(text)) { try SocketAddress(ipAddress: text, port: 80) }
    }

    @Test("localhost resolves to loopback addresses")
    func localhost() throws {
        let addresses = try SocketAddress.resolve(host: "localhost", port: 9000)
        #expect(!addresses.isEmpty)
        for address in addresses {
            #expect(address.port == 9000)
            #expect(address.host == "127.0.0.1" || address.host == "::1", "unexpected \(address)")
        }
    }

    @Test("a family filter keeps only that family")
    func familyFilter() throws {
        #expect(try SocketAddress.resolve(host: "127.0.0.1", port: 1, family: .ipv4).map(\.family) == [.ipv4])
        #expect(throws: SocketError.self) { try SocketAddress.resolve(host: "127.0.0.1", port: 1, family: .ipv6) }
    }

    // A name with a space is refused by the resolver itself (RFC 1123 host-name syntax), so this
    // test sends no DNS query anywhere: only loopback traffic is allowed in tests.
    @Test("an unknown host is hostNotFound, with gai_strerror's text")
    func unknownHost() {
        do {
            _ = try SocketAddress.resolve(host: "no such host.invalid", port: 80)
            Issue.record("resolved a host that cannot exist")
        } catch {
            guard case .hostNotFound(let host, _, let message) = error else {
                Issue.record("expected hostNotFound, got \(error)")
                return
            }
            #expect(host == "no such host.invalid")
            #expect(!message.isEmpty)
            #expect(error.description.contains("host not found"))
        }
    }

    @Test("sockaddr round trip keeps family, bytes, port and scope")
    func sockaddrRoundTrip() throws {
        for address in [
            SocketAddress.ipv4Loopback(port: 1), .ipv6Loopback(port: 65535),
            try SocketAddress(ipAddress: "fe80::1", port: 7).with(port: 8),
        ] {
            let back = address.withSockAddr { pointer, _ in SocketAddress(pointer) }
            #expect(back == address)
        }
    }
}
