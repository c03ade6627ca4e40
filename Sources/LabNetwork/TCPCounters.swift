import Foundation
import TCPSocket

/// A host's TCP counters since its namespace was made (what `netstat -s` and `nstat` show):
/// from `/proc/thread-self/net/snmp`, read by a thread inside the host's namespace, because the
/// file shows the counters of the network namespace of the thread that opens it.
///
/// TCP_INFO describes one connection as seen from one end; a segment lost on its way to the
/// customer is sent again by the *other* end, so its retransmission shows in the sender's
/// counters, not in the receiver's TCP_INFO.
public struct TCPCounters: Sendable, Equatable {
    /// Segments sent (`OutSegs`, retransmissions not included).
    public var segmentsSent: Int
    /// Segments sent again (`RetransSegs`).
    public var segmentsRetransmitted: Int

    /// The counters of the host whose namespace this is.
    public static func read(in namespace: NetworkNamespace) async throws -> TCPCounters {
        try await namespace.perform { () throws(SocketError) -> TCPCounters in
            guard let text = try? String(contentsOfFile: "/proc/thread-self/net/snmp", encoding: .utf8) else {
                throw .from(SystemCallFailure(syscall: "open", target: "/proc/thread-self/net/snmp", errno: ENOENT))
            }
            return parse(text)
        }
    }

    /// The `Tcp:` lines of an snmp file: a line of names, then a line of values.
    static func parse(_ text: String) -> TCPCounters {
        let lines = text.split(separator: "\n").filter { $0.hasPrefix("Tcp:") }.map { $0.split(separator: " ").dropFirst() }
        guard lines.count >= 2 else { return TCPCounters(segmentsSent: 0, segmentsRetransmitted: 0) }
        // Name and value by position; a value that is no number stays nil rather than shifting the rest.
        let values = Dictionary(zip(lines[0].map(String.init), lines[1].map { Int($0) }), uniquingKeysWith: { first, _ in first })
        return TCPCounters(segmentsSent: (values["OutSegs"] ?? nil) ?? 0, segmentsRetransmitted: (values["RetransSegs"] ?? nil) ?? 0)
    }
}
