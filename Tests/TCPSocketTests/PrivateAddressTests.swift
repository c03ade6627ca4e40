import Testing

@testable import TCPSocket

/// Which addresses count as private or local (the targets a public service must not be made to
/// call): the special-purpose registries' blocks, as vectors.
@Suite("SocketAddress: private and local addresses")
struct PrivateAddressTests {
    @Test("private, loopback, link-local, shared, multicast and unspecified addresses", arguments: [
        "127.0.0.1", "127.9.9.9", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1",
        "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fc00::1", "fd12:3456::1", "fe80::1", "ff02::1", "::ffff:127.0.0.1",
        "::ffff:10.0.0.1", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::1", "2002:c0a8:101::", "fec0::1",
    ])
    func refused(_ text: String) throws {
        #expect(try SocketAddress(ipAddress: text, port: 80).isPrivateOrLocal, "\(text)")
    }

    @Test("public addresses", arguments: ["8.8.8.8", "172.32.0.1", "172.15.255.255", "100.128.0.1", "192.169.0.1", "2001:4860::8888", "::ffff:8.8.8.8",
                                      "64:ff9b::808:808", "2002:808:808::1"])
    func allowed(_ text: String) throws {
        #expect(try !SocketAddress(ipAddress: text, port: 80).isPrivateOrLocal, "\(text)")
    }
}
