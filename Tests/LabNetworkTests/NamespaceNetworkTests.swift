import Foundation
import NetLabTestSupport
import TCPSocket
import Testing

@testable import LabNetwork

/// Namespaces need root; CI runs as root. Each test builds a topology with a prefix of its own
/// and removes it, so tests never meet each other's hosts (or a developer's `netlab` network).
let canBuildNamespaces = NamespaceNetwork.isPermitted && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip")

/// A prefix no other test (or earlier run) uses.
func uniquePrefix() -> String { "nlt" + String(UInt32.random(in: 0..<0xFFFFF), radix: 36) }

/// Runs blocking work (`ip` commands, joining the router's threads) on a thread of its own, so
/// the cooperative pool — two threads on a two-core machine — stays free for the tests running
/// beside these (their TLS handshakes have deadlines).
func offThePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}

@Suite("Lab network in namespaces", .serialized, .enabled(if: canBuildNamespaces, "needs root and iproute2"), .timeLimit(.minutes(3)))
struct NamespaceNetworkTests {
    /// Every namespace and /etc/netns folder on the machine whose name starts with `prefix-`.
    static func leftovers(_ prefix: String) -> [String] {
        let namespaces = (try? FileManager.default.contentsOfDirectory(atPath: NetworkNamespace.directory)) ?? []
        let etc = (try? FileManager.default.contentsOfDirectory(atPath: "/etc/netns")) ?? []
        return (namespaces + etc.map { "/etc/netns/" + $0 }).filter { $0.hasPrefix(prefix + "-") || $0.hasPrefix("/etc/netns/\(prefix)-") }
    }

    @Test("up builds five namespaces with their addresses and hosts files; down leaves nothing behind")
    func upAndDown() async throws {
        let prefix = uniquePrefix()
        let network = NamespaceNetwork(topology: try Topology(prefix: prefix))
        @Sendable func veths() throws -> Int {
            try SystemCommand(["ip", "-o", "link", "show", "type", "veth"]).check().split(separator: "\n").count
        }
        let (status, hosts, resolved, removed, after, vethsBefore, vethsAfter) = try await offThePool {
            do {
                let vethsBefore = try veths()
                try network.up()
                let status = network.status()
                let hosts = try String(contentsOfFile: "/etc/netns/\(prefix)-customer/hosts", encoding: .utf8)
                // getaddrinfo inside the namespace, as any program there sees it.
                let resolved = try SystemCommand(["ip", "netns", "exec", "\(prefix)-customer", "getent", "hosts", "gateway"]).check()
                return (status, hosts, resolved, try network.down(), network.status(), vethsBefore, try veths())
            } catch {
                _ = try? network.down()
                throw error
            }
        }
        #expect(status.map(\.name) == ["router", "customer", "merchant", "gateway", "bank"].map { "\(prefix)-\($0)" })
        #expect(status.allSatisfy { $0.exists })
        let gateway = try #require(status.first { $0.name == "\(prefix)-gateway" })
        // `eth0@if5 UP 10.77.3.2/24`: the interface, its peer's number, state (UP once the cable is) and address.
        #expect(gateway.interfaces.count == 1 && gateway.interfaces[0].hasPrefix("eth0@") && gateway.interfaces[0].hasSuffix(" 10.77.3.2/24"),
                "\(gateway.interfaces)")
        let router = try #require(status.first { $0.name == "\(prefix)-router" })
        #expect(router.interfaces.count == 4, "\(router.interfaces)")
        #expect(hosts.contains("10.77.4.2 bank"))
        #expect(resolved.hasPrefix("10.77.3.2"), "\(resolved)")
        #expect(removed.count == 5)
        #expect(vethsAfter == vethsBefore, "no cable is ever left in this host's own namespace")
        #expect(Self.leftovers(prefix).isEmpty, "\(Self.leftovers(prefix))")
        #expect(after.allSatisfy { !$0.exists })
    }

    @Test("what a killed run left (a namespace, a hosts folder) is removed by the next up, and down removes the rest")
    func leftoversAreCleared() async throws {
        let prefix = uniquePrefix()
        let network = NamespaceNetwork(topology: try Topology(prefix: prefix))
        let built = try await offThePool {
            defer { _ = try? network.down() }
            // As if `netlab net up` had been SIGKILLed halfway.
            try SystemCommand(["ip", "netns", "add", "\(prefix)-customer"]).check()
            try SystemCommand(["ip", "-n", "\(prefix)-customer", "link", "add", "stray0", "type", "veth", "peer", "name", "stray1"]).check()
            try FileManager.default.createDirectory(atPath: "/etc/netns/\(prefix)-bank", withIntermediateDirectories: true)
            try network.up()
            return network.status()
        }
        #expect(built.allSatisfy { $0.exists })
        #expect(Self.leftovers(prefix).isEmpty, "\(Self.leftovers(prefix))")
    }

    @Test("a TCP connection from the customer's host reaches a listener on the gateway's, through the router, and TCP_INFO describes it")
    func connectionAcrossTheRouter() async throws {
        let prefix = uniquePrefix()
        let topology = try Topology(prefix: prefix)
        let network = NamespaceNetwork(topology: topology)
        try await offThePool { try network.up() }
        do {
            try await Self.echoThroughTheRouter(topology)
        } catch {
            _ = try? await offThePool { try network.down() }
            throw error
        }
        _ = try await offThePool { try network.down() }
    }

    /// A listener on the gateway's host, a connection from the customer's, five bytes each way.
    static func echoThroughTheRouter(_ topology: Topology) async throws {

        let gatewayAddress = try SocketAddress(ipAddress: topology.address(of: .gateway), port: 0)
        let listener = AsyncTCPListener(
            adopting: try TCPListener(bindingTo: gatewayAddress, in: topology.namespace(of: .gateway)))
        let port = listener.localAddress.port
        let serving = Task {
            let connection = try await listener.accept(deadline: .after(.seconds(20)))
            let bytes = try await connection.readExactly(5, deadline: .after(.seconds(20)))
            try await connection.write(bytes.reversed())
            let peer = connection.remoteAddress.host
            await connection.close()
            return peer
        }
        let client = try await AsyncTCPConnection.connect(
            to: try SocketAddress(ipAddress: topology.address(of: .gateway), port: port), timeout: .seconds(20),
            in: topology.namespace(of: .customer))
        #expect(client.localAddress.host == topology.address(of: .customer), "the connection leaves from the customer's host")
        try await client.write(Array("hello".utf8))
        #expect(try await client.readExactly(5, deadline: .after(.seconds(20))) == Array("olleh".utf8))
        #expect(try await serving.value == topology.address(of: .customer), "the gateway sees the customer's address")
        let info = try client.tcpInfo()
        #expect(info.bytesAcknowledged >= 5 && info.segmentsSent > 0 && info.congestionWindow > 0, "\(info)")
        await client.close()
        await listener.close()
    }

}

@Suite("Topology")
struct TopologyTests {
    @Test("a prefix that would make bad names is refused", arguments: ["", "Upper", "9lives", "far-too-long", "a b", "a-b"])
    func badPrefix(prefix: String) {
        #expect(throws: LabNetworkError.invalidPrefix(prefix)) { try Topology(prefix: prefix) }
    }

    @Test("each host has its own /24 in 10.77.0.0/16, the router's side .1 as its default route; the hosts file names them all")
    func addressPlan() throws {
        let topology = try Topology()
        #expect(Topology.Host.allCases.map(topology.address(of:)) == ["10.77.1.2", "10.77.2.2", "10.77.3.2", "10.77.4.2"])
        #expect(topology.routerAddress(toward: .bank) == "10.77.4.1")
        #expect(topology.namespace(of: .merchant).name == "netlab-merchant")
        #expect(topology.namespaces.count == 5)
        #expect(topology.hostsFile.contains("10.77.1.2 customer\n10.77.2.2 merchant\n10.77.3.2 gateway\n10.77.4.2 bank\n"))
    }
}

@Suite("TCP counters")
struct TCPCountersTests {
    @Test("the Tcp: lines of /proc/net/snmp: OutSegs and RetransSegs")
    func parse() {
        let text = """
            Ip: Forwarding DefaultTTL
            Ip: 1 64
            Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors
            Tcp: 1 200 120000 -1 12 10 0 1 2 5000 4800 37 0 3 0
            Udp: InDatagrams
            Udp: 4
            """
        #expect(TCPCounters.parse(text) == TCPCounters(segmentsSent: 4800, segmentsRetransmitted: 37))
    }
}
