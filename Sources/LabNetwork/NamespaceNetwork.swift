import Foundation
import TCPSocket

/// Builds, reports and removes a ``Topology`` on this machine with iproute2 (`ip`): network
/// namespaces, veth pairs, addresses, routes and hosts files.
///
/// ``up()`` first removes whatever an earlier run with the same prefix left behind (a run killed
/// halfway leaves namespaces, which outlive their process), so it always starts clean;
/// ``down()`` removes every namespace and hosts file with the prefix. Deleting a namespace
/// deletes its end of each veth pair, and a veth pair dies with either end: nothing else is left.
public struct NamespaceNetwork: Sendable {
    public let topology: Topology
    /// Called with each command before it runs (`netlab net up --verbose`).
    public var log: (@Sendable (String) -> Void)?

    public init(topology: Topology, log: (@Sendable (String) -> Void)? = nil) {
        self.topology = topology
        self.log = log
    }

    /// Whether this process may build namespaces: it holds CAP_NET_ADMIN and CAP_SYS_ADMIN
    /// (root has them, except in a container that took them away).
    public static var isPermitted: Bool {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
            let effective = UInt64(line.dropFirst("CapEff:".count).trimmingCharacters(in: .whitespaces), radix: 16)
        else { return false }
        let netAdmin: UInt64 = 1 << 12, sysAdmin: UInt64 = 1 << 21
        return effective & netAdmin != 0 && effective & sysAdmin != 0
    }

    /// Claims the prefix for this process until the returned lock is released (or the process
    /// ends, however it ends): a second run with the same prefix gets ``LabNetworkError/prefixInUse(_:)``
    /// instead of tearing the first one's network down.
    public func claim() throws(LabNetworkError) -> PrefixLock {
        guard Self.isPermitted else { throw .notPermitted }
        return try PrefixLock(prefix: topology.prefix)
    }

    // MARK: Up

    /// Builds the topology, after removing any leftovers with the same prefix.
    public func up() throws(LabNetworkError) {
        guard Self.isPermitted else { throw .notPermitted }
        try down()
        do throws(LabNetworkError) {
            try build()
        } catch {
            _ = try? down()  // nothing half-built stays
            throw error
        }
    }

    private func build() throws(LabNetworkError) {
        let router = topology.router.name
        for namespace in topology.namespaces { try ip("netns", "add", namespace.name) }
        try ip("-n", router, "link", "set", "lo", "up")
        try setForwarding(true)
        for host in Topology.Host.allCases {
            let namespace = topology.namespace(of: host).name
            let routerSide = topology.routerInterface(toward: host)
            // The cable: one end in the router, the other straight into the host as eth0.
            try ip("-n", router, "link", "add", routerSide, "type", "veth", "peer", "name", Topology.hostInterface, "netns", namespace)
            try ip("-n", router, "addr", "add", "\(topology.routerAddress(toward: host))/24", "dev", routerSide)
            try ip("-n", router, "link", "set", routerSide, "up")
            try ip("-n", namespace, "link", "set", "lo", "up")
            try ip("-n", namespace, "addr", "add", "\(topology.address(of: host))/24", "dev", Topology.hostInterface)
            try ip("-n", namespace, "link", "set", Topology.hostInterface, "up")
            try ip("-n", namespace, "route", "add", "default", "via", topology.routerAddress(toward: host))
        }
        for namespace in topology.namespaces { try writeHostsFile(for: namespace) }
    }

    private func writeHostsFile(for namespace: NetworkNamespace) throws(LabNetworkError) {
        let directory = topology.etcDirectory(of: namespace)
        log?("write \(directory)/hosts")
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try Data(topology.hostsFile.utf8).write(to: URL(fileURLWithPath: directory + "/hosts"))
        } catch {
            throw .commandFailed("write \(directory)/hosts", status: -1, output: "\(error)")
        }
    }

    /// Turns IPv4 forwarding in the router's kernel on (plain routing) or off (while
    /// ``LinkEmulator`` forwards instead).
    func setForwarding(_ on: Bool) throws(LabNetworkError) {
        try run(["ip", "netns", "exec", topology.router.name, "sysctl", "-qw", "net.ipv4.ip_forward=\(on ? 1 : 0)"])
    }

    // MARK: Down

    /// Removes the topology's namespaces and hosts-file folders — exactly the names it makes,
    /// never anything else that shares the prefix; returns what it removed.
    @discardableResult
    public func down() throws(LabNetworkError) -> [String] {
        guard Self.isPermitted else { throw .notPermitted }
        var removed: [String] = []
        for namespace in topology.namespaces {
            if namespace.exists {
                try ip("netns", "delete", namespace.name)
                removed.append(namespace.name)
            }
            let etc = topology.etcDirectory(of: namespace)
            if FileManager.default.fileExists(atPath: etc) {
                log?("remove \(etc)")
                try? FileManager.default.removeItem(atPath: etc)
                if !removed.contains(namespace.name) { removed.append(namespace.name) }
            }
        }
        return removed
    }

    // MARK: Status

    /// One namespace as `ip` sees it now.
    public struct NamespaceStatus: Sendable, Equatable {
        public var name: String
        public var exists: Bool
        /// `interface state address/prefix` lines (`ip -brief -4 address`), loopback left out.
        public var interfaces: [String]
    }

    /// Every namespace of the topology, present or not.
    public func status() -> [NamespaceStatus] {
        topology.namespaces.map { namespace in
            guard namespace.exists else { return NamespaceStatus(name: namespace.name, exists: false, interfaces: []) }
            let output = (try? SystemCommand(["ip", "-n", namespace.name, "-brief", "-4", "address"]).run().output) ?? ""
            let lines = output.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
            return NamespaceStatus(name: namespace.name, exists: true, interfaces: lines.filter { !$0.hasPrefix("lo ") })
        }
    }

    // MARK: Running ip

    private func ip(_ arguments: String...) throws(LabNetworkError) {
        try run(["ip"] + arguments)
    }

    private func run(_ arguments: [String]) throws(LabNetworkError) {
        let command = SystemCommand(arguments)
        log?(command.description)
        try command.check()
    }
}

/// An exclusive `flock(2)` on `/run/netlab-PREFIX.lock`, held while a run uses the namespaces of
/// one prefix. The kernel releases it when the process ends, even by SIGKILL, so a killed run
/// never keeps the next one out.
public final class PrefixLock: @unchecked Sendable {
    private let fd: Int32
    public let path: String

    init(prefix: String) throws(LabNetworkError) {
        path = "/run/netlab-\(prefix).lock"
        let fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .commandFailed("open \(path)", status: -1, output: String(cString: strerror(errno))) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw .prefixInUse(prefix)
        }
        self.fd = fd
    }

    deinit { close(fd) }
}
