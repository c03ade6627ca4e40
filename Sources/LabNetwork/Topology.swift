import TCPSocket

/// The lab's small internet: four hosts — the customer, the merchant, the gateway (payment,
/// fraud and notification services) and the bank — each a network namespace with one
/// interface, `eth0`, joined to a router namespace by a veth pair (a virtual cable):
///
///     customer 10.77.1.2 ──┐                     ┌── 10.77.3.2 gateway
///                  eth0    │ rt-customer  rt-gateway │    eth0
///                          ├──────── router ─────────┤
///     merchant 10.77.2.2 ──┘ rt-merchant    rt-bank  └── 10.77.4.2 bank
///
/// Every link is its own /24 in 10.77.0.0/16 (private, RFC 1918): host *n* is `10.77.n.2`, the
/// router's side `10.77.n.1`, which is the host's default route. The router forwards between
/// its links (IPv4 forwarding on in its namespace only). Each host resolves the others by name
/// through its own hosts file, `/etc/netns/NAMESPACE/hosts` (what `ip netns exec` shows a
/// program as `/etc/hosts`).
///
/// Every name starts with a prefix (`netlab` unless told otherwise: `netlab-customer` …), so
/// `netlab net down` finds exactly what `up` made, and tests use prefixes of their own.
public struct Topology: Sendable, Hashable {
    /// The hosts, numbered from 1 in this order (the third octet of their addresses).
    public enum Host: String, CaseIterable, Sendable {
        case customer, merchant, gateway, bank

        var number: Int { Host.allCases.firstIndex(of: self)! + 1 }
    }

    /// All the lab's addresses are in this prefix.
    public static let addressPrefix = "10.77.0.0/16"

    public let prefix: String

    public init(prefix: String = "netlab") throws(LabNetworkError) {
        guard let first = prefix.utf8.first, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first), prefix.utf8.count <= 8,
            prefix.utf8.allSatisfy({ (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
        else { throw .invalidPrefix(prefix) }
        self.prefix = prefix
    }

    /// The namespace of `host`.
    public func namespace(of host: Host) -> NetworkNamespace { NetworkNamespace("\(prefix)-\(host.rawValue)") }
    /// The router's namespace.
    public var router: NetworkNamespace { NetworkNamespace("\(prefix)-router") }
    /// Every namespace of the topology, the router first.
    public var namespaces: [NetworkNamespace] { [router] + Host.allCases.map(namespace(of:)) }

    /// `host`'s address on its link.
    public func address(of host: Host) -> String { "10.77.\(host.number).2" }
    /// The router's address on `host`'s link: the host's default route.
    public func routerAddress(toward host: Host) -> String { "10.77.\(host.number).1" }
    /// The router's end of `host`'s link.
    public func routerInterface(toward host: Host) -> String { "rt-\(host.rawValue)" }
    /// Every host's one interface.
    public static let hostInterface = "eth0"

    /// The hosts file every namespace gets: each host by its name.
    public var hostsFile: String {
        var lines = ["127.0.0.1 localhost", "::1 localhost"]
        for host in Host.allCases { lines.append("\(address(of: host)) \(host.rawValue)") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Where `ip netns exec` looks for a namespace's own `/etc` files.
    public func etcDirectory(of namespace: NetworkNamespace) -> String { "/etc/netns/\(namespace.name)" }
}
