import Foundation
import NetLabTestSupport
import TCPSocket
import Testing

@testable import LabNetwork

/// `netlab net` as a user runs it: the real binary, killed the hard way.
@Suite("netlab net", .serialized, .enabled(if: canBuildNamespaces, "needs root and iproute2"), .timeLimit(.minutes(3)))
struct NetCommandTests {
    /// A TCP connection from the customer's host to a listener on the gateway's works.
    static func customerReachesGateway(_ topology: Topology) async throws {
        let (client, server, listener) = try await LinkEmulatorTests.connect(topology)
        try await client.write(Array("ok".utf8))
        #expect(try await server.readExactly(2, deadline: .after(.seconds(20))) == Array("ok".utf8))
        await client.close()
        await server.close()
        await listener.close()
    }

    @Test("SIGKILL while NetLab's router runs: the next up starts clean and routes again, down leaves nothing")
    func killedAndRerun() async throws {
        let netlab = try TestProcess.netlabBinary()
        let prefix = uniquePrefix()
        let topology = try Topology(prefix: prefix)
        defer { _ = try? NamespaceNetwork(topology: topology).down() }  // the test's end: nothing else waits on it
        let running = try ChildProcess(executable: netlab, arguments: ["net", "up", "--prefix", prefix, "--delay", "5ms"])
        var line: String?
        repeat { line = await running.readLine(timeout: .seconds(60)) } while line.map { !$0.contains("router is forwarding") } ?? false
        #expect(line != nil, "\(running.output)")
        kill(running.pid, SIGKILL)
        _ = await running.wait(timeout: .seconds(30))
        #expect(topology.namespaces.allSatisfy { $0.exists }, "a killed run leaves its namespaces")

        let (upStatus, upOutput) = try await TestProcess.run([netlab, "net", "up", "--prefix", prefix])
        #expect(upStatus == 0, "\(upOutput)")
        try await Self.customerReachesGateway(topology)

        let (downStatus, downOutput) = try await TestProcess.run([netlab, "net", "down", "--prefix", prefix])
        #expect(downStatus == 0 && downOutput.contains("removed ") && downOutput.contains("\(prefix)-bank"), "\(downOutput)")
        #expect(NamespaceNetworkTests.leftovers(prefix).isEmpty, "\(NamespaceNetworkTests.leftovers(prefix))")
        let (_, status) = try await TestProcess.run([netlab, "net", "status", "--prefix", prefix])
        #expect(status.contains("no network"), "\(status)")
    }

    @Test("without root, net up says what it needs and builds nothing", .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")))
    func withoutRoot() async throws {
        // A copy the unprivileged user can run, wherever the checkout lives.
        let folder = "/tmp/netlab-unprivileged-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let netlab = folder + "/netlab"
        try FileManager.default.copyItem(atPath: try TestProcess.netlabBinary(), toPath: netlab)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: netlab)
        let prefix = uniquePrefix()
        let (status, output) = try await TestProcess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", netlab, "net", "up", "--prefix", prefix])
        #expect(status != 0)
        #expect(output.contains("needs root") && output.contains("loopback"), "\(output)")
        #expect(NamespaceNetworkTests.leftovers(prefix).isEmpty)
    }

    @Test("impairments that cannot be read are refused before anything is built")
    func badImpairment() async throws {
        let netlab = try TestProcess.netlabBinary()
        let prefix = uniquePrefix()
        let (status, output) = try await TestProcess.run([netlab, "net", "up", "--prefix", prefix, "--link", "customer:loss=lots"])
        #expect(status != 0 && output.contains("a share is a percentage"), "\(output)")
        #expect(NamespaceNetworkTests.leftovers(prefix).isEmpty)
    }

    @Test("netlab demo --net plays the payment across the hosts: the customer's TCP leaves 10.77.1.2, TCP_INFO shows the link's delay, nothing is left after")
    func demoAcrossTheNetwork() async throws {
        let netlab = try TestProcess.netlabBinary()
        let prefix = uniquePrefix()
        let (status, output) = try await TestProcess.run(
            [netlab, "demo", "--net", "--net-prefix", prefix, "--link", "customer:delay=50ms", "--no-pause", "--scenario", "card-accept"])
        #expect(status == 0, "\(output.suffix(2000))")
        #expect(output.contains("TCP connect 10.77.1.2:"), "the customer connects from its own host")
        #expect(output.contains("TCP connect 10.77.2.2:"), "the merchant calls the gateway from its own host")
        // "RTT 100 ms ± 25 ms (min 100 ms, …)": the smallest round trip of some connection.
        let minima = output.split(separator: "\n").compactMap { line in
            line.firstMatch(of: /\(min (\d+) ms/).flatMap { Int($0.1) }
        }
        let rtt = minima.first { $0 >= 100 && $0 < 100 + 250 }
        #expect(rtt != nil, "a customer connection measured the 2 × 50 ms round trip: \(output.split(separator: "\n").filter { $0.contains("RTT") }.prefix(4))")
        #expect(NamespaceNetworkTests.leftovers(prefix).isEmpty, "\(NamespaceNetworkTests.leftovers(prefix))")
    }

    @Test("the network stories play to their end", arguments: ["handshake-rtt", "lossy-checkout", "slow-bank", "partition"])
    func networkStory(scenario: String) async throws {
        let netlab = try TestProcess.netlabBinary()
        let prefix = uniquePrefix()
        let (status, output) = try await TestProcess.run([netlab, "demo", "--net", "--net-prefix", prefix, "--no-pause", "--scenario", scenario])
        #expect(status == 0, "\(output.suffix(3000))")
        #expect(output.contains("✔ \(scenario):"), "\(output.suffix(1500))")
        if scenario == "lossy-checkout" {
            // The gateway's host resent what the lossy link dropped (its TCP counters say how many).
            let resent = output.firstMatch(of: /the gateway's host sent (\d+) segments again/).flatMap { Int($0.1) }
            #expect((resent ?? 0) > 0, "\(output.split(separator: "\n").filter { $0.contains("segments again") })")
        }
        #expect(NamespaceNetworkTests.leftovers(prefix).isEmpty)
    }

    @Test("a network story without --net says how to run it")
    func storyNeedsTheNetwork() async throws {
        let netlab = try TestProcess.netlabBinary()
        let (status, output) = try await TestProcess.run([netlab, "demo", "--no-pause", "--scenario", "partition"])
        #expect(status != 0 && output.contains("needs the lab network"), "\(output.suffix(800))")
    }

    @Test("netlab demo --net --pcap: the customer's capture and the key log beside it show the decrypted requests in tshark",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/tshark")))
    func demoCapture() async throws {
        let netlab = try TestProcess.netlabBinary()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-pcap-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let pcap = folder + "/customer.pcap"
        let (status, output) = try await TestProcess.run(
            [netlab, "demo", "--net", "--net-prefix", uniquePrefix(), "--no-pause", "--scenario", "card-deny", "--pcap", pcap])
        #expect(status == 0, "\(output.suffix(1500))")
        let mode = try FileManager.default.attributesOfItem(atPath: pcap + ".keylog")[.posixPermissions] as? Int
        #expect(mode == 0o600, "the key log decrypts every connection: 0600")
        let (_, syns) = try await ChildProcess.run(["tshark", "-r", pcap, "-Y", "tcp.flags.syn == 1 && tcp.flags.ack == 0", "-T", "fields", "-e", "ip.src"])
        #expect(syns.contains("10.77.1.2"), "\(syns)")
        let (_, requests) = try await ChildProcess.run(
            ["tshark", "-r", pcap, "-o", "tls.keylog_file:\(pcap).keylog", "-Y", "http.request", "-T", "fields", "-e", "http.request.uri"])
        #expect(requests.contains("/orders"), "\(requests)")
    }

    @Test("two runs never share a prefix: the second is told the network is in use, the first keeps it")
    func prefixClaimedOnce() async throws {
        let netlab = try TestProcess.netlabBinary()
        let prefix = uniquePrefix()
        let topology = try Topology(prefix: prefix)
        defer { _ = try? NamespaceNetwork(topology: topology).down() }
        let running = try ChildProcess(executable: netlab, arguments: ["net", "up", "--prefix", prefix, "--delay", "1ms"])
        var line: String?
        repeat { line = await running.readLine(timeout: .seconds(60)) } while line.map { !$0.contains("router is forwarding") } ?? false
        let (status, output) = try await TestProcess.run([netlab, "net", "down", "--prefix", prefix])
        #expect(status != 0 && output.contains("is using the network"), "\(output)")
        #expect(topology.namespaces.allSatisfy { $0.exists }, "the first run's network is untouched")
        kill(running.pid, SIGINT)
        _ = await running.wait(timeout: .seconds(30))
        let (downStatus, _) = try await TestProcess.run([netlab, "net", "down", "--prefix", prefix])
        #expect(downStatus == 0)
        #expect(NamespaceNetworkTests.leftovers(prefix).isEmpty)
    }
}
