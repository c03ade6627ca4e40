/// What a link does to the packets that cross it — delay, jitter, loss, reordering, a rate
/// limit — the knobs of Linux's netem, applied here by NetLab's own router (``LinkEmulator``).
///
/// Each applies every time a packet crosses the link, in each direction: a customer → gateway
/// packet crosses the customer's link and the gateway's, so with `--delay 80ms` on every link
/// the round trip between them gains 4 × 80 ms.
///
/// Written as on the command line: `delay=80ms,jitter=10ms,loss=2%,reorder=1%,rate=1mbit`.
public struct LinkImpairment: Sendable, Hashable, CustomStringConvertible {
    /// Added to every packet's trip.
    public var delay: Duration = .zero
    /// Each packet's delay varies by up to this much either way (uniformly), never below zero.
    public var jitter: Duration = .zero
    /// The share of packets dropped, 0…1.
    public var loss: Double = 0
    /// The share of packets sent at once, overtaking the delayed ones before them, 0…1.
    public var reorder: Double = 0
    /// The link's speed in bits per second: a packet leaves only when the ones before it have
    /// been clocked out. nil: as fast as the machine goes.
    public var rate: UInt64?

    public init(delay: Duration = .zero, jitter: Duration = .zero, loss: Double = 0, reorder: Double = 0, rate: UInt64? = nil) {
        self.delay = delay
        self.jitter = jitter
        self.loss = loss
        self.reorder = reorder
        self.rate = rate
    }

    /// A link that does nothing to its packets.
    public static let none = LinkImpairment()

    public var isNone: Bool { self == .none }

    /// Parses `key=value` pairs separated by commas (`delay=200ms,loss=5%`).
    public init(parsing text: String) throws(LabNetworkError) {
        for pair in text.split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { throw .invalidImpairment(String(pair), "expected key=value") }
            try set(String(parts[0]), to: String(parts[1]))
        }
    }

    /// Sets one knob from its command-line text: `delay` `jitter` (durations: 80ms, 1s, 500us),
    /// `loss` `reorder` (percentages: 2%, 0.5%), `rate` (1mbit, 512kbit, 10gbit, 9600bit).
    public mutating func set(_ key: String, to value: String) throws(LabNetworkError) {
        switch key {
        case "delay": delay = try Self.duration(value)
        case "jitter": jitter = try Self.duration(value)
        case "loss": loss = try Self.share(value)
        case "reorder": reorder = try Self.share(value)
        case "rate": rate = try Self.bitsPerSecond(value)
        default: throw .invalidImpairment(key, "unknown; use delay, jitter, loss, reorder or rate")
        }
    }

    public var description: String {
        var parts: [String] = []
        if delay != .zero { parts.append("delay \(Self.text(delay))") }
        if jitter != .zero { parts.append("jitter \(Self.text(jitter))") }
        if loss > 0 { parts.append("loss \(loss * 100)%") }
        if reorder > 0 { parts.append("reorder \(reorder * 100)%") }
        if let rate { parts.append("rate \(rate) bit/s") }
        return parts.isEmpty ? "no impairment" : parts.joined(separator: ", ")
    }

    /// Each host's link from the command line: `everywhere` knobs (`("delay", "80ms")`) for
    /// every link, then `links` (`customer:delay=200ms,loss=5%`) for one host each. Links left
    /// unimpaired are not in the result.
    public static func perHost(everywhere: [(key: String, value: String)], links: [String]) throws(LabNetworkError)
        -> [Topology.Host: LinkImpairment]
    {
        var common = LinkImpairment.none
        for (key, value) in everywhere { try common.set(key, to: value) }
        var result = Dictionary(uniqueKeysWithValues: Topology.Host.allCases.map { ($0, common) })
        for text in links {
            let parts = text.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, let host = Topology.Host(rawValue: String(parts[0])) else {
                throw .unknownHost(String(parts.first ?? ""))
            }
            var impairment = result[host] ?? .none
            for pair in parts[1].split(separator: ",") {
                let keyValue = pair.split(separator: "=", maxSplits: 1)
                guard keyValue.count == 2 else { throw .invalidImpairment(String(pair), "expected key=value") }
                try impairment.set(String(keyValue[0]), to: String(keyValue[1]))
            }
            result[host] = impairment
        }
        return result.filter { !$0.value.isNone }
    }

    // MARK: Units

    static func duration(_ text: String) throws(LabNetworkError) -> Duration {
        let units: [(String, Double)] = [("us", 1e-6), ("ms", 1e-3), ("s", 1)]
        for (unit, scale) in units where text.hasSuffix(unit) {
            guard let number = Double(text.dropLast(unit.count)), number >= 0, number <= 3600 else { break }
            return .nanoseconds(Int64((number * scale * 1e9).rounded()))
        }
        throw .invalidImpairment(text, "a duration is a number and us, ms or s (80ms)")
    }

    static func share(_ text: String) throws(LabNetworkError) -> Double {
        guard text.hasSuffix("%"), let number = Double(text.dropLast()), (0...100).contains(number) else {
            throw .invalidImpairment(text, "a share is a percentage from 0% to 100% (2%)")
        }
        return number / 100
    }

    static func bitsPerSecond(_ text: String) throws(LabNetworkError) -> UInt64 {
        let units: [(String, Double)] = [("gbit", 1e9), ("mbit", 1e6), ("kbit", 1e3), ("bit", 1)]
        for (unit, scale) in units where text.hasSuffix(unit) {
            guard let number = Double(text.dropLast(unit.count)), number > 0, number * scale >= 8, number * scale <= 1e12 else { break }
            return UInt64(number * scale)
        }
        throw .invalidImpairment(text, "a rate is a number and bit, kbit, mbit or gbit (1mbit), at least 8 bit")
    }

    /// `80 ms`, `1500 ms`, `250 µs`.
    public static func text(_ duration: Duration) -> String {
        let micros = duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000
        return micros % 1000 == 0 ? "\(micros / 1000) ms" : "\(micros) µs"
    }
}
