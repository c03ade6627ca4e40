import TCPSocket

/// Observability as a feature: a ``ByteStream`` that records every byte crossing it, in both
/// directions, then passes it on unchanged. Put one under TLS to see ciphertext, one above TLS
/// to see the HTTP plaintext; tests assert on what each saw.
///
/// ```swift
/// let tap = Wiretap(layer: "tcp")
/// let tapped = tap.tapping(tcpConnection)          // a ByteStream
/// let tls = try await TLSStream.connect(over: tapped, …)
/// tap.records                                      // what crossed the TCP boundary
/// ```
public final class Wiretap: Sendable {
    public enum Direction: String, Sendable {
        /// Written by us, towards the peer.
        case outbound = "→"
        /// Read by us, from the peer.
        case inbound = "←"
    }

    public struct Record: Sendable {
        public let direction: Direction
        public let bytes: [UInt8]
        public let at: ContinuousClock.Instant
    }

    /// Which boundary this tap watches ("tcp", "tls", …), for display.
    public let layer: String
    /// At most this many bytes are kept (older records are dropped first).
    public let capacity: Int
    private let storage = Locked<(records: [Record], bytes: Int)>(([], 0))

    public init(layer: String, capacity: Int = 4 << 20) {
        self.layer = layer
        self.capacity = capacity
    }

    /// Everything recorded so far, oldest first.
    public var records: [Record] { storage.withLock { $0.records } }

    /// All bytes that went one way, concatenated.
    public func bytes(_ direction: Direction) -> [UInt8] {
        records.filter { $0.direction == direction }.flatMap(\.bytes)
    }

    /// Whether `needle` appears in what crossed, either way.
    public func saw(_ needle: String) -> Bool {
        let n = Array(needle.utf8)
        return [bytes(.outbound), bytes(.inbound)].contains { haystack in
            haystack.count >= n.count && (0...(haystack.count - n.count)).contains { haystack[$0..<($0 + n.count)].elementsEqual(n) }
        }
    }

    /// Adds a record by hand (for taps that watch something other than a stream).
    public func record(_ direction: Direction, _ bytes: some Collection<UInt8>) {
        guard !bytes.isEmpty else { return }
        let record = Record(direction: direction, bytes: Array(bytes), at: .now)
        storage.withLock { storage in
            storage.records.append(record)
            storage.bytes += record.bytes.count
            while storage.bytes > capacity, !storage.records.isEmpty {
                storage.bytes -= storage.records.removeFirst().bytes.count
            }
        }
    }

    /// `stream`, with every byte through it recorded here.
    public func tapping(_ stream: any ByteStream) -> any ByteStream {
        TappedStream(inner: stream, tap: self)
    }
}

/// The ByteStream a ``Wiretap`` puts in the path.
struct TappedStream: ByteStream {
    let inner: any ByteStream
    let tap: Wiretap

    func read(into buffer: inout [UInt8], maxBytes: Int, deadline: Deadline) async throws -> ReadResult {
        let start = buffer.count
        let result = try await inner.read(into: &buffer, maxBytes: maxBytes, deadline: deadline)
        if case .bytes = result { tap.record(.inbound, buffer[start...]) }
        return result
    }

    func write(_ bytes: [UInt8], deadline: Deadline) async throws {
        tap.record(.outbound, bytes)
        try await inner.write(bytes, deadline: deadline)
    }

    func shutdownWrite() async throws { try await inner.shutdownWrite() }
    var preferredExecutor: (any TaskExecutor)? { inner.preferredExecutor }
    func close() async { await inner.close() }
    func abort() async { await inner.abort() }
}
