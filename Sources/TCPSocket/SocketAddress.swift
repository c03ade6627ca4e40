#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address plus a TCP port: one end of a connection.
///
/// Printed the way URLs and logs write them: `127.0.0.1:8080`, `[::1]:8080`
/// (brackets keep the port apart from the colons of an IPv6 address, RFC 3986 §3.2.2).
///
/// Make one from text with ``resolve(host:port:family:)`` (getaddrinfo: names, numeric
/// hosts, `localhost`) or ``init(ipAddress:port:)`` (numeric only, never touches DNS).
public struct SocketAddress: Hashable, Sendable, CustomStringConvertible {
    public enum Family: String, Hashable, Sendable {
        case ipv4, ipv6
    }

    public let family: Family
    /// The address in network byte order: 4 bytes for IPv4, 16 for IPv6.
    public let addressBytes: [UInt8]
    public let port: UInt16
    /// The IPv6 scope (interface index) of a link-local address; 0 otherwise.
    public let scopeID: UInt32

    /// - Precondition: `addressBytes` has 4 bytes for `.ipv4`, 16 for `.ipv6`.
    public init(family: Family, addressBytes: [UInt8], port: UInt16, scopeID: UInt32 = 0) {
        precondition(addressBytes.count == (family == .ipv4 ? 4 : 16), "wrong address length for \(family)")
        self.family = family
        self.addressBytes = addressBytes
        self.port = port
        self.scopeID = scopeID
    }

    /// `127.0.0.1:port`.
    public static func ipv4Loopback(port: UInt16) -> SocketAddress {
        SocketAddress(family: .ipv4, addressBytes: [127, 0, 0, 1], port: port)
    }

    /// `[::1]:port`.
    public static func ipv6Loopback(port: UInt16) -> SocketAddress {
        SocketAddress(family: .ipv6, addressBytes: Array(repeating: 0, count: 15) + [1], port: port)
    }

    /// `0.0.0.0:port`: every IPv4 address of this machine (for listening).
    public static func ipv4Any(port: UInt16) -> SocketAddress {
        SocketAddress(family: .ipv4, addressBytes: [0, 0, 0, 0], port: port)
    }

    /// `[::]:port`: every IPv6 address (and, on a dual-stack listener, every IPv4 one too).
    public static func ipv6Any(port: UInt16) -> SocketAddress {
        SocketAddress(family: .ipv6, addressBytes: Array(repeating: 0, count: 16), port: port)
    }

    /// A numeric address such as `"127.0.0.1"` or `"::1"`; never consults DNS.
    public init(ipAddress: String, port: UInt16) throws(SocketError) {
        let found = try Self.lookup(host: ipAddress, port: port, family: nil, numericOnly: true, passive: false)
        guard let first = found.first else { throw .invalidAddress(ipAddress) }
        self = first
    }

    /// Every address `host` resolves to, in the order getaddrinfo prefers (RFC 6724).
    ///
    /// `host` may be a name (`localhost`, `gateway.example`) or a numeric address; `family`
    /// limits the answer to IPv4 or IPv6. Throws ``SocketError/hostNotFound(host:code:message:)``
    /// when the name does not exist.
    public static func resolve(host: String, port: UInt16, family: Family? = nil) throws(SocketError)
        -> [SocketAddress]
    {
        try lookup(host: host, port: port, family: family, numericOnly: false, passive: false)
    }

    /// ``resolve(host:port:family:)`` without blocking the calling task's thread: a numeric host
    /// is parsed on the spot; a name is looked up (getaddrinfo blocks) on a thread of its own,
    /// never on an event loop or the cooperative pool that other tasks need.
    public static func resolveAsync(host: String, port: UInt16, family: Family? = nil) async throws -> [SocketAddress] {
        if let numeric = try? SocketAddress(ipAddress: host, port: port) {
            if family == nil || numeric.family == family { return [numeric] }
        }
        return try await withCheckedThrowingContinuation { continuation in
            let thread = Platform.startThread(name: "netlab-resolve") {
                continuation.resume(with: Result { () throws(SocketError) in try resolve(host: host, port: port, family: family) })
            }
            Platform.detach(thread)
        }
    }

    /// The address text without the port: `127.0.0.1`, `::1` (inet_ntop).
    public var host: String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let af = family == .ipv4 ? AF_INET : AF_INET6
        addressBytes.withUnsafeBytes { raw in
            _ = inet_ntop(af, raw.baseAddress, &text, socklen_t(text.count))
        }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public var description: String {
        family == .ipv4 ? "\(host):\(port)" : "[\(host)]:\(port)"
    }

    /// This address with another port.
    public func with(port: UInt16) -> SocketAddress {
        SocketAddress(family: family, addressBytes: addressBytes, port: port, scopeID: scopeID)
    }

    // MARK: - Conversions to and from the C structures

    var protocolFamily: Int32 { family == .ipv4 ? AF_INET : AF_INET6 }

    /// Calls `body` with this address as a `sockaddr` (for bind and connect).
    func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        var storage = sockaddr_storage()
        return withUnsafeMutableBytes(of: &storage) { raw in
            switch family {
            case .ipv4:
                let sin = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in.self)
                sin.pointee.sin_family = sa_family_t(AF_INET)
                sin.pointee.sin_port = port.bigEndian
                withUnsafeMutableBytes(of: &sin.pointee.sin_addr) { $0.copyBytes(from: addressBytes) }
                return raw.baseAddress!.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    body($0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            case .ipv6:
                let sin6 = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in6.self)
                sin6.pointee.sin6_family = sa_family_t(AF_INET6)
                sin6.pointee.sin6_port = port.bigEndian
                sin6.pointee.sin6_scope_id = scopeID
                withUnsafeMutableBytes(of: &sin6.pointee.sin6_addr) { $0.copyBytes(from: addressBytes) }
                return raw.baseAddress!.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    body($0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        }
    }

    /// Reads an IPv4 or IPv6 `sockaddr`; `nil` for any other family (e.g. AF_UNIX).
    init?(_ address: UnsafePointer<sockaddr>) {
        switch Int32(address.pointee.sa_family) {
        case AF_INET:
            let sin = UnsafeRawPointer(address).loadUnaligned(as: sockaddr_in.self)
            self.init(
                family: .ipv4, addressBytes: withUnsafeBytes(of: sin.sin_addr) { Array($0) },
                port: UInt16(bigEndian: sin.sin_port))
        case AF_INET6:
            let sin6 = UnsafeRawPointer(address).loadUnaligned(as: sockaddr_in6.self)
            self.init(
                family: .ipv6, addressBytes: withUnsafeBytes(of: sin6.sin6_addr) { Array($0) },
                port: UInt16(bigEndian: sin6.sin6_port), scopeID: sin6.sin6_scope_id)
        default:
            return nil
        }
    }

    static func lookup(host: String, port: UInt16, family: Family?, numericOnly: Bool, passive: Bool)
        throws(SocketError) -> [SocketAddress]
    {
        var hints = addrinfo()
        hints.ai_socktype = Platform.streamType
        hints.ai_family = family.map { $0 == .ipv4 ? AF_INET : AF_INET6 } ?? AF_UNSPEC
        hints.ai_flags = (numericOnly ? AI_NUMERICHOST : 0) | (passive ? AI_PASSIVE : 0)
        var list: UnsafeMutablePointer<addrinfo>?
        let code = getaddrinfo(host, nil, &hints, &list)
        guard code == 0 else {
            if numericOnly { throw .invalidAddress(host) }
            let message =
                code == Platform.gaiSystem
                ? Platform.errorMessage(Platform.errno) : String(cString: gai_strerror(code))
            if code == Platform.gaiNoName || code == Platform.gaiNoData {
                throw .hostNotFound(host: host, code: code, message: message)
            }
            throw .resolutionFailed(host: host, code: code, message: message)
        }
        defer { freeaddrinfo(list) }
        var result: [SocketAddress] = []
        var node = list
        while let entry = node {
            if let sa = entry.pointee.ai_addr, let address = SocketAddress(sa)?.with(port: port),
                !result.contains(address)
            {
                result.append(address)
            }
            node = entry.pointee.ai_next
        }
        guard !result.isEmpty else {
            throw .hostNotFound(host: host, code: Platform.gaiNoData, message: "no IPv4 or IPv6 address")
        }
        return result
    }
}

extension SocketAddress {
    /// Whether this address is one a service on the public internet should never be made to
    /// call: loopback, unspecified, private (RFC 1918, RFC 4193), shared (RFC 6598), link-local,
    /// multicast or broadcast — the targets of server-side request forgery. An IPv4 address
    /// carried inside IPv6 (mapped `::ffff:0:0/96`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) is
    /// judged as the IPv4 one; the deprecated site-local `fec0::/10` counts as private.
    public var isPrivateOrLocal: Bool {
        let b = addressBytes
        switch family {
        case .ipv4:
            guard b.count == 4 else { return true }
            return Self.isPrivateOrLocalIPv4(b)
        case .ipv6:
            guard b.count == 16 else { return true }
            if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xFF && b[11] == 0xFF { return Self.isPrivateOrLocalIPv4(Array(b[12..<16])) }
            if b[0..<12].elementsEqual([0x00, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0]) { return Self.isPrivateOrLocalIPv4(Array(b[12..<16])) }  // NAT64
            if b[0] == 0x20 && b[1] == 0x02 { return Self.isPrivateOrLocalIPv4(Array(b[2..<6])) }  // 6to4
            if b[0..<15].allSatisfy({ $0 == 0 }) && (b[15] == 0 || b[15] == 1) { return true }  // :: and ::1
            if b[0] & 0xFE == 0xFC { return true }                 // fc00::/7, unique local
            if b[0] == 0xFE && b[1] & 0xC0 == 0x80 { return true }  // fe80::/10, link-local
            if b[0] == 0xFE && b[1] & 0xC0 == 0xC0 { return true }  // fec0::/10, site-local (deprecated)
            if b[0] == 0xFF { return true }                         // multicast
            return false
        }
    }

    private static func isPrivateOrLocalIPv4(_ b: [UInt8]) -> Bool {
        switch (b[0], b[1]) {
        case (0, _), (10, _), (127, _): true
        case (100, 64...127): true       // shared address space (carrier-grade NAT)
        case (169, 254): true            // link-local
        case (172, 16...31): true
        case (192, 168): true
        case (224...255, _): true        // multicast, reserved, broadcast
        default: false
        }
    }
}
