import ArgumentParser
import Dispatch
import Foundation
import LabNetwork

/// `netlab net up|down|status`: the lab's small internet in network namespaces (see
/// ``Topology`` for the drawing and the addresses).
struct Net: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "net",
        abstract: "Build, show or remove the lab's network: customer, merchant, gateway and bank on hosts of their own.",
        discussion: """
            Each host is a Linux network namespace with one interface (eth0) cabled to a router \
            namespace by a veth pair: customer 10.77.1.2, merchant 10.77.2.2, gateway 10.77.3.2, \
            bank 10.77.4.2, each reaching the others by name. Needs root. Try: \
            `sudo ip netns exec netlab-customer ping -c1 gateway` after `netlab net up`.
            """,
        subcommands: [Up.self, Down.self, Status.self])

    struct Names: ParsableArguments {
        @Option(help: "The prefix of every namespace name (1-8 lowercase letters or digits).")
        var prefix = "netlab"

        func network(verbose: Bool = false) throws -> NamespaceNetwork {
            let topology = try Topology(prefix: prefix)
            var log: (@Sendable (String) -> Void)?
            if verbose { log = { line in Swift.print("  " + line) } }
            return NamespaceNetwork(topology: topology, log: log)
        }
    }

    struct Up: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build the network (removing any leftovers first).",
            discussion: """
                With impairments, NetLab's own router forwards between the hosts and applies them \
                (each time a packet crosses a link, in each direction); it runs until Ctrl-C, and \
                the network then stays up without them. Example: \
                `netlab net up --delay 40ms --link customer:loss=5%`.
                """)
        @OptionGroup var names: Names
        @Flag(help: "Print every command as it runs.") var verbose = false
        @OptionGroup var impairmentOptions: Impairments

        func run() throws {
            let impairments = try impairmentOptions.perHost()  // checked before anything is built
            let network = try names.network(verbose: verbose)
            // While this builds (and while its router runs), no other run may take the prefix.
            let claim = try network.claim()
            defer { _ = claim }
            try network.up()
            Net.printStatus(network)
            guard !impairments.isEmpty else { return }
            let emulator = try LinkEmulator(topology: network.topology, impairments: impairments, seed: impairmentOptions.seed)
            try emulator.start()
            for host in Topology.Host.allCases {
                if let impairment = impairments[host] { print("\(host.rawValue)'s link: \(impairment)") }
            }
            print("NetLab's router is forwarding (seed \(impairmentOptions.seed)); Ctrl-C stops it and leaves the network up, unimpaired.")
            fflush(nil)  // every output stream: the lines above reach a pipe now, not at exit
            Net.waitForInterrupt()
            emulator.stop()
            for host in Topology.Host.allCases {
                if let counters = emulator.linkCounters[host] {
                    print("\(host.rawValue): \(counters.received) received, \(counters.delivered) delivered, \(counters.dropped) dropped, \(counters.reordered) reordered")
                }
            }
        }
    }

    /// What the links do to packets (NetLab's router applies it; see ``LinkImpairment``).
    struct Impairments: ParsableArguments {
        @Option(help: "Delay on every link, each crossing, each direction (80ms, 1s, 500us).") var delay: String?
        @Option(help: "Random variation of each delay, either way.") var jitter: String?
        @Option(help: "Share of packets each link drops (2%).") var loss: String?
        @Option(help: "Share of packets sent at once, overtaking held ones (1%).") var reorder: String?
        @Option(help: "Each link's speed (1mbit, 512kbit).") var rate: String?
        @Option(help: "One host's link: HOST:key=value,... (customer:delay=200ms,loss=5%).") var link: [String] = []
        @Option(help: "Seed of the router's random draws (the same seed, the same drops).") var seed: UInt64 = 1

        func perHost() throws -> [Topology.Host: LinkImpairment] {
            let everywhere = [("delay", delay), ("jitter", jitter), ("loss", loss), ("reorder", reorder), ("rate", rate)]
                .compactMap { key, value in value.map { (key: key, value: $0) } }
            return try LinkImpairment.perHost(everywhere: everywhere, links: link)
        }
    }

    struct Down: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove the network and everything it left.")
        @OptionGroup var names: Names
        @Flag(help: "Print every command as it runs.") var verbose = false

        func run() throws {
            let network = try names.network(verbose: verbose)
            let claim = try network.claim()  // not while another run uses these namespaces
            defer { _ = claim }
            let removed = try network.down()
            print(removed.isEmpty ? "nothing to remove" : "removed \(removed.joined(separator: ", "))")
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the network's hosts and addresses.")
        @OptionGroup var names: Names

        func run() throws {
            Net.printStatus(try names.network())
        }
    }

    /// Blocks until SIGINT or SIGTERM arrives (their default action, ending the process at
    /// once, is switched off meanwhile).
    static func waitForInterrupt() {
        let arrived = DispatchSemaphore(value: 0)
        var sources: [DispatchSourceSignal] = []
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { arrived.signal() }
            source.resume()
            sources.append(source)
        }
        arrived.wait()
        for source in sources { source.cancel() }
    }

    static func printStatus(_ network: NamespaceNetwork) {
        let hosts = network.status()
        for host in hosts {
            let interfaces = host.exists ? host.interfaces.joined(separator: "; ") : "absent"
            print("\(host.name.padding(toLength: 18, withPad: " ", startingAt: 0)) \(interfaces)")
        }
        if hosts.allSatisfy({ !$0.exists }) { print("(no network; `sudo netlab net up` builds it)") }
    }
}
