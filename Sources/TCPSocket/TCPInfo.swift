/// What the kernel knows about one TCP connection: Linux's `TCP_INFO` (`man 7 tcp`), read with
/// `getsockopt` by ``AsyncTCPConnection/tcpInfo()`` and ``TCPConnection/tcpInfo()``.
///
/// On loopback nothing is ever lost and the round trip takes microseconds; across a real (or
/// emulated) link these numbers are TCP at work: the smoothed RTT and its variance (RFC 6298),
/// the congestion window growing and shrinking (RFC 5681), segments retransmitted after a loss.
public struct TCPInfo: Sendable, Hashable, CustomStringConvertible {
    /// The connection's state (RFC 9293 §3.3.2), as Linux numbers them.
    public enum State: UInt8, Sendable {
        case established = 1, synSent, synReceived, finWait1, finWait2, timeWait, closed, closeWait, lastAck, listen, closing
    }

    /// Where congestion control is (Linux's `tcp_ca_state`).
    public enum CongestionState: UInt8, Sendable {
        /// Nothing unusual.
        case open = 0
        /// Duplicate ACKs or SACKs seen: something may be lost or reordered.
        case disorder
        /// The window was reduced after an ECN congestion signal.
        case congestionWindowReduced
        /// Fast retransmit and recovery after a loss (RFC 6582).
        case recovery
        /// A retransmission timeout fired: everything in flight is presumed lost.
        case loss
    }

    public var state: State?
    public var congestionState: CongestionState?
    /// The smoothed round-trip time (SRTT) and its mean deviation (RTTVAR), RFC 6298.
    public var roundTripTime: Duration
    public var roundTripTimeVariance: Duration
    /// The smallest round trip seen (the path's delay without queueing).
    public var minimumRoundTripTime: Duration
    /// The retransmission timeout now in force: RFC 6298's SRTT + 4·RTTVAR, where Linux never
    /// lets the variance term fall below 200 ms.
    public var retransmissionTimeout: Duration
    /// The congestion window, in segments of ``senderMSS`` bytes.
    public var congestionWindow: Int
    /// The slow-start threshold in segments; nil while still in the first slow start.
    public var slowStartThreshold: Int?
    public var senderMSS: Int
    public var receiverMSS: Int
    /// Segments sent and not yet acknowledged.
    public var unacknowledged: Int
    /// Segments presumed lost, and being retransmitted, right now.
    public var lost: Int
    public var retransmittingNow: Int
    /// Every retransmission over the connection's life.
    public var totalRetransmissions: Int
    public var segmentsSent: Int
    public var segmentsReceived: Int
    public var bytesSent: UInt64
    public var bytesAcknowledged: UInt64
    public var bytesReceived: UInt64
    public var bytesRetransmitted: UInt64
    /// The most recent delivery-rate estimate (bytes per second).
    public var deliveryRate: UInt64
    /// The receive window the peer last advertised, in bytes.
    public var peerReceiveWindow: Int
    public var pathMTU: Int

    public var description: String {
        func ms(_ d: Duration) -> String {
            let micros = d.components.seconds * 1_000_000 + d.components.attoseconds / 1_000_000_000_000
            return micros < 10_000 ? "\(Double(micros / 10) / 100) ms" : "\(micros / 1000) ms"
        }
        var parts = [
            "RTT \(ms(roundTripTime)) ± \(ms(roundTripTimeVariance)) (min \(ms(minimumRoundTripTime)), RTO \(ms(retransmissionTimeout)))",
            "cwnd \(congestionWindow) × \(senderMSS) B" + (slowStartThreshold.map { ", ssthresh \($0)" } ?? ", slow start"),
            "\(totalRetransmissions) retransmitted",
            "\(bytesAcknowledged) B acked, \(bytesReceived) B received",
            "delivery \(deliveryRate / 1000) kB/s",
        ]
        if let congestionState, congestionState != .open { parts.append("congestion: \(congestionState)") }
        if let state, state != .established { parts.append("\(state)") }
        return parts.joined(separator: ", ")
    }
}
