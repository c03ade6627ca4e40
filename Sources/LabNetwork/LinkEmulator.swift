// Theory of operation
// ===================
//
// LinkEmulator is the lab network's router, written here: while it runs, the router
// namespace's kernel does not forward (IPv4 forwarding off), and every IPv4 packet from one
// host to another goes through this code instead:
//
//   rt-customer ──recv──▶ classify ──▶ impair ──▶ queue of rt-gateway ──send at its time──▶ gateway
//
// 1. A packet socket on each router interface receives the Ethernet frames the host sent.
//    Frames for the router itself (ARP, pings to 10.77.n.1) are the kernel's business and are
//    left alone; an IPv4 packet for another host's /24 is this code's.
// 2. Forwarding is what a router does to an IPv4 packet (RFC 1812): TTL down by one (a packet
//    whose TTL runs out is dropped), the header checksum recomputed, and a new Ethernet header:
//    from the router's interface on the way out, to the destination host's MAC.
// 3. Impairment: each link the packet crosses (its sender's, then its receiver's) may drop it
//    (loss), hold it (delay ± jitter), let it overtake the held ones (reorder), and clock it out
//    no faster than its rate. The random draws come from a seeded generator per link, so a
//    seed gives the same decisions in every run.
// 4. Each outgoing interface has a queue ordered by departure time, drained by a thread of its
//    own that sleeps until the next departure. A queue longer than `queueLimit` drops new
//    packets (a full router buffer: that is loss too).
//
// Rule: nothing here blocks on another link. A slow, lossy link delays only its own packets.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import TCPSocket

/// NetLab's own router with impairments for the lab network (see the theory of operation above).
public final class LinkEmulator: @unchecked Sendable {
    public let topology: Topology
    public let seed: UInt64
    private let currentImpairments: Locked<[Topology.Host: LinkImpairment]>
    /// Packets held at once per outgoing link before new ones are dropped (netem's default).
    public static let queueLimit = 1000

    /// What the emulator did on one link, counted in packets.
    public struct LinkCounters: Sendable, Equatable {
        /// Arrived from the host.
        public var received = 0
        /// Sent on to the host.
        public var delivered = 0
        /// Dropped on this link (loss, a full queue, a cut path, or a TTL that ran out).
        public var dropped = 0
        /// Let through early, overtaking packets held before them.
        public var reordered = 0

        public init() {}
    }

    private struct Link {
        let host: Topology.Host
        let socket: PacketSocket
        let hostMAC: [UInt8]
        let routerMAC: [UInt8]
        let queue: DepartureQueue
    }

    private var links: [Topology.Host: Link] = [:]
    private let counters = Locked<[Topology.Host: LinkCounters]>([:])
    /// Pairs of hosts whose packets to each other are dropped.
    private let cuts = Locked<Set<Set<Topology.Host>>>([])
    private let stopping = Locked(false)
    private var threads: [Thread] = []
    private let network: NamespaceNetwork

    /// Prepares the router for `topology`, which must be up; nothing runs until ``start()``.
    public init(topology: Topology, impairments: [Topology.Host: LinkImpairment], seed: UInt64) throws(LabNetworkError) {
        self.topology = topology
        currentImpairments = Locked(impairments)
        self.seed = seed
        network = NamespaceNetwork(topology: topology)
        for host in Topology.Host.allCases {
            let interface = topology.routerInterface(toward: host)
            try PacketSocket.disableOffloads(of: Topology.hostInterface, in: topology.namespace(of: host))
            try PacketSocket.disableOffloads(of: interface, in: topology.router)
            links[host] = Link(
                host: host,
                socket: try PacketSocket(interface: interface, in: topology.router),
                hostMAC: try PacketSocket.macAddress(of: Topology.hostInterface, in: topology.namespace(of: host)),
                routerMAC: try PacketSocket.macAddress(of: interface, in: topology.router),
                queue: DepartureQueue(limit: Self.queueLimit))
            counters.withLock { $0[host] = LinkCounters() }
        }
    }

    /// What each link does now (links not in it do nothing to their packets).
    public var impairments: [Topology.Host: LinkImpairment] { currentImpairments.withLock { $0 } }

    /// Changes what `host`'s link does, from the next packet on (a story cuts a link, slows it,
    /// heals it); packets already held keep their departure times.
    public func setImpairment(_ impairment: LinkImpairment, for host: Topology.Host) {
        currentImpairments.withLock { $0[host] = impairment }
    }

    /// Cuts the path between two hosts (their packets to each other are dropped; each still
    /// reaches everyone else): a partition, as when a route between two networks fails.
    public func cut(_ a: Topology.Host, _ b: Topology.Host) {
        cuts.withLock { _ = $0.insert([a, b]) }
    }

    /// Restores the path between two hosts.
    public func heal(_ a: Topology.Host, _ b: Topology.Host) {
        cuts.withLock { _ = $0.remove([a, b]) }
    }

    /// The counters of every link so far.
    public var linkCounters: [Topology.Host: LinkCounters] { counters.withLock { $0 } }

    /// Where the emulator is in its life: it runs once.
    private enum Lifecycle { case prepared, running, stopped }
    private let lifecycle = Locked(Lifecycle.prepared)

    /// Takes over forwarding from the router's kernel and starts the links' threads. An
    /// emulator starts once; a stopped one stays stopped (make a new one).
    public func start() throws(LabNetworkError) {
        let ready = lifecycle.withLock { state -> Bool in
            guard state == .prepared else { return false }
            state = .running
            return true
        }
        guard ready else { throw .emulatorLifecycle("a link emulator starts once; make a new one") }
        try network.setForwarding(false)
        // Frames queued while the kernel still forwarded were delivered by it already.
        for link in links.values { link.socket.drain() }
        for (index, host) in Topology.Host.allCases.enumerated() {
            guard let link = links[host] else { continue }
            let linkSeed = seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15
            let receiver = Thread { [self] in
                var random = SplitMix64(seed: linkSeed)
                receive(on: link, random: &random)
            }
            receiver.name = "netlab-router-in-\(host.rawValue)"
            let sender = Thread { [self] in send(on: link) }
            sender.name = "netlab-router-out-\(host.rawValue)"
            threads += [receiver, sender]
        }
        for thread in threads { thread.start() }
    }

    /// Stops the threads and gives forwarding back to the router's kernel (no impairments).
    /// Blocks until the threads have ended (a few tens of milliseconds).
    public func stop() {
        let wasRunning = lifecycle.withLock { state -> Bool in
            defer { state = .stopped }
            return state == .running
        }
        guard wasRunning else { return }
        stopping.withLock { $0 = true }
        for link in links.values { link.queue.close() }
        while threads.contains(where: { !$0.isFinished }) { usleep(10_000) }
        threads = []
        try? network.setForwarding(true)
    }

    // MARK: Receiving

    private func receive(on link: Link, random: inout SplitMix64) {
        var scratch: [UInt8] = []
        // When the host's own link is free again for its next packet (the sender's rate).
        var upstreamFreeAt = ContinuousClock.now
        while !stopping.withLock({ $0 }) {
            // Only frames sent to the router's own address: not the ones it sends, and not
            // broadcasts or other hosts' frames (those are no router's to forward).
            guard let received = link.socket.receive(into: &scratch, timeoutMilliseconds: 50), received.kind == .toThisHost
            else { continue }
            guard let destination = destinationHost(of: scratch[..<received.length]), destination != link.host,
                let out = links[destination]
            else { continue }
            count(link.host) { $0.received += 1 }
            // A frame larger than the buffer arrived cut short: forwarding it would corrupt it.
            guard received.wireLength == received.length else {
                count(link.host) { $0.dropped += 1 }
                continue
            }
            var frame = Array(scratch[..<received.length])
            if cuts.withLock({ $0.contains([link.host, destination]) }) {
                count(link.host) { $0.dropped += 1 }
                continue
            }
            guard Self.forward(&frame, from: out.routerMAC, to: out.hostMAC) else {
                count(link.host) { $0.dropped += 1 }
                continue
            }
            let now = ContinuousClock.now
            let impairments = currentImpairments.withLock { $0 }
            // The sender's link clocks the packet in at its rate first.
            var departure = now
            if let rate = impairments[link.host]?.rate {
                upstreamFreeAt = max(now, upstreamFreeAt) + Self.serialization(of: frame.count, at: rate)
                departure = upstreamFreeAt
            }
            // The sender's link, then the receiver's: each may drop, hold or hurry the packet.
            let clockedIn = departure
            var hurried = false
            var lost = false
            for (host, impairment) in [(link.host, impairments[link.host] ?? .none), (destination, impairments[destination] ?? .none)] {
                if impairment.loss > 0 && random.nextUnit() < impairment.loss {
                    count(host) { $0.dropped += 1 }
                    lost = true
                    break
                }
                if impairment.reorder > 0 && random.nextUnit() < impairment.reorder {
                    hurried = true
                    count(host) { $0.reordered += 1 }
                    continue
                }
                departure += impairment.delay
                if impairment.jitter > .zero {
                    let spread = Double(impairment.jitter.components.attoseconds) / 1e18 + Double(impairment.jitter.components.seconds)
                    departure += .nanoseconds(Int64((random.nextUnit() * 2 - 1) * spread * 1e9))
                    if departure < clockedIn { departure = clockedIn }
                }
            }
            if lost { continue }
            if hurried { departure = clockedIn }
            // Then the receiver's link clocks it out at its rate (the queue keeps that clock).
            let accepted = out.queue.add(
                frame, at: departure, serialization: impairments[destination]?.rate.map { Self.serialization(of: frame.count, at: $0) })
            if !accepted { count(destination) { $0.dropped += 1 } }
        }
    }

    /// How long `bytes` take to clock out at `rate` bits per second.
    static func serialization(of bytes: Int, at rate: UInt64) -> Duration {
        .nanoseconds(Int64(Double(bytes * 8) / Double(rate) * 1e9))
    }

    /// The host whose /24 holds the IPv4 packet's destination — unless it is the router itself,
    /// or the link's network or broadcast address (10.77.n.0, 10.77.n.255), which no router
    /// forwards to a host.
    private func destinationHost(of frame: ArraySlice<UInt8>) -> Topology.Host? {
        // Ethernet (14 bytes) with type 0x0800, then IPv4: destination address at offset 16.
        let f = frame.startIndex
        guard frame.count >= 34, frame[f + 12] == 0x08, frame[f + 13] == 0x00, frame[f + 14] >> 4 == 4 else { return nil }
        guard frame[f + 30] == 10, frame[f + 31] == 77, ![0, 1, 255].contains(frame[f + 33]) else { return nil }
        return Topology.Host.allCases.first { $0.number == Int(frame[f + 32]) }
    }

    /// RFC 1812 forwarding of the IPv4 packet in `frame`: the header must be whole, its length
    /// fields consistent and its checksum right (§5.2.2; else the packet is dropped), TTL − 1
    /// (false if it ran out: a router would send ICMP Time Exceeded, which this one does not),
    /// the header checksum again, and the Ethernet addresses of the next hop.
    static func forward(_ frame: inout [UInt8], from source: [UInt8], to destination: [UInt8]) -> Bool {
        let ip = 14
        guard frame.count >= ip + 20 else { return false }
        let headerLength = Int(frame[ip] & 0x0F) * 4
        let totalLength = Int(frame[ip + 2]) << 8 | Int(frame[ip + 3])
        guard headerLength >= 20, totalLength >= headerLength, frame.count >= ip + totalLength,
            internetChecksum(frame[ip..<(ip + headerLength)]) == 0, frame[ip + 8] > 1
        else { return false }
        frame[ip + 8] -= 1
        frame[ip + 10] = 0
        frame[ip + 11] = 0
        let checksum = internetChecksum(frame[ip..<(ip + headerLength)])
        frame[ip + 10] = UInt8(checksum >> 8)
        frame[ip + 11] = UInt8(checksum & 0xFF)
        frame.replaceSubrange(0..<6, with: destination)
        frame.replaceSubrange(6..<12, with: source)
        return true
    }

    /// The Internet checksum (RFC 1071): the ones' complement of the ones' complement sum of
    /// the 16-bit words.
    static func internetChecksum(_ bytes: ArraySlice<UInt8>) -> UInt16 {
        var sum: UInt32 = 0
        var index = bytes.startIndex
        while index + 1 < bytes.endIndex {
            sum += UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1])
            index += 2
        }
        if index < bytes.endIndex { sum += UInt32(bytes[index]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xFFFF) + (sum >> 16) }
        return ~UInt16(sum)
    }

    // MARK: Sending

    private func send(on link: Link) {
        while let frame = link.queue.next() {
            if link.socket.send(frame) { count(link.host) { $0.delivered += 1 } } else { count(link.host) { $0.dropped += 1 } }
        }
    }

    private func count(_ host: Topology.Host, _ change: (inout LinkCounters) -> Void) {
        counters.withLock { change(&$0[host, default: LinkCounters()]) }
    }
}

/// One outgoing link's packets, each with the instant it may leave; ``next()`` waits for the
/// earliest. A rate makes each packet also wait for the one before it to be clocked out.
final class DepartureQueue: @unchecked Sendable {
    private struct Held {
        let due: ContinuousClock.Instant
        let order: UInt64
        let frame: [UInt8]
    }
    private let condition = NSCondition()
    private var held: [Held] = []
    private var order: UInt64 = 0
    private var closed = false
    /// When the link is free again (the rate's clock).
    private var linkFreeAt = ContinuousClock.now
    let limit: Int

    init(limit: Int) { self.limit = limit }

    /// Queues `frame` to leave at `due` (later if the link's rate is still clocking out earlier
    /// ones); false when the queue is full.
    func add(_ frame: [UInt8], at due: ContinuousClock.Instant, serialization: Duration?) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard held.count < limit, !closed else { return false }
        var leaves = due
        if let serialization {
            leaves = max(due, linkFreeAt) + serialization
            linkFreeAt = leaves
        }
        order += 1
        let entry = Held(due: leaves, order: order, frame: frame)
        let position = held.firstIndex { ($0.due, $0.order) > (entry.due, entry.order) } ?? held.endIndex
        held.insert(entry, at: position)
        condition.signal()
        return true
    }

    /// The next frame once its time has come; nil after ``close()``.
    func next() -> [UInt8]? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if closed { return nil }
            guard let first = held.first else {
                condition.wait()
                continue
            }
            let wait = first.due - .now
            if wait <= .zero {
                held.removeFirst()
                return first.frame
            }
            let seconds = Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18
            _ = condition.wait(until: Date(timeIntervalSinceNow: seconds))
        }
    }

    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}
