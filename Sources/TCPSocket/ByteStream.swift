/// The outcome of one read: some bytes, or the explicit end of the stream.
///
/// End of stream is not an error: it is how TCP says "the peer has finished sending"
/// (it sent a FIN, e.g. after `shutdown(.write)` or `close`). Errors are thrown.
public enum ReadResult: Hashable, Sendable {
    /// This many bytes (at least one) were read.
    case bytes(Int)
    /// The peer will send nothing more.
    case endOfStream
}

/// Which half (or both) of a connection ``TCPConnection/shutdown(_:)`` closes.
public enum ShutdownDirection: Hashable, Sendable {
    /// We will read no more.
    case read
    /// We will write no more: the peer reads end-of-stream once it has everything we sent (a FIN).
    case write
    /// Both.
    case both
}

/// TCP keep-alive probing: after `idle` without traffic the kernel sends a probe every
/// `interval`, and declares the connection dead after `probes` unanswered ones.
public struct KeepAlive: Hashable, Sendable {
    public var idle: Duration
    public var interval: Duration
    public var probes: Int

    public init(idle: Duration = .seconds(60), interval: Duration = .seconds(10), probes: Int = 6) {
        self.idle = idle
        self.interval = interval
        self.probes = probes
    }
}

/// A reliable, ordered, two-way stream of bytes: the seam every layer above TCP reads and
/// writes through.
///
/// ``AsyncTCPConnection`` is one (bytes over a TCP socket); the TLS layer wraps one and is one
/// (plaintext over ciphertext over TCP), so HTTP never knows which it is talking over.
/// A student's own transport conforms to this protocol and drops in.
///
/// Contract:
/// - ``read(into:maxBytes:deadline:)`` appends 1…`maxBytes` bytes to `buffer` and returns
///   `.bytes(n)`, or returns `.endOfStream` (appending nothing) once the peer has finished.
///   It waits until at least one byte or the end is there, or until the deadline passes
///   (then it throws a timeout error and the stream stays usable). After `.endOfStream`
///   every further read returns `.endOfStream`.
/// - ``write(_:deadline:)`` returns once every byte has been handed to the layer below (not
///   necessarily received by the peer). Bytes written are delivered in order, exactly once.
/// - ``shutdownWrite()`` sends end-of-stream to the peer; reading still works.
/// - ``close()`` releases the stream; it may be called more than once. Any other call after
///   it throws.
/// - ``abort()`` releases the stream as a failure the peer cannot mistake for a clean end
///   (TCP sends a RST; TLS sends no close_notify). Where a stream has no such signal it is
///   ``close()`` (the default).
/// - One read and one write may be in flight at the same time (full duplex); two
///   concurrent reads, or two concurrent writes, interleave unpredictably.
/// - ``preferredExecutor`` is where the stream's waits are resumed (a TCP connection's event
///   loop), or nil (the default): work that must keep pace with the peer, such as a TLS
///   handshake racing the server's deadline, runs there rather than on whatever thread its
///   caller happens to use.
/// Errors are thrown as the layer's own error type (``SocketError`` for TCP).
public protocol ByteStream: Sendable {
    func read(into buffer: inout [UInt8], maxBytes: Int, deadline: Deadline) async throws -> ReadResult
    func write(_ bytes: [UInt8], deadline: Deadline) async throws
    func shutdownWrite() async throws
    func close() async
    func abort() async
    var preferredExecutor: (any TaskExecutor)? { get }
}

extension ByteStream {
    /// A stream that waits on no event loop of its own leaves its callers where they are.
    public var preferredExecutor: (any TaskExecutor)? { nil }

    /// A stream with no way to signal failure ends as it always does.
    public func abort() async {
        await close()
    }

    /// A read that waits as long as it takes.
    public func read(into buffer: inout [UInt8], maxBytes: Int) async throws -> ReadResult {
        try await read(into: &buffer, maxBytes: maxBytes, deadline: .never)
    }

    /// A write that waits as long as it takes.
    public func write(_ bytes: [UInt8]) async throws {
        try await write(bytes, deadline: .never)
    }

    /// Writes the UTF-8 bytes of `text`.
    public func write(_ text: String) async throws {
        try await write(Array(text.utf8))
    }

    /// Reads exactly `count` bytes, or throws ``SocketError/unexpectedEndOfStream(expected:received:)``.
    public func readExactly(_ count: Int, deadline: Deadline = .never) async throws -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(count)
        while buffer.count < count {
            if case .endOfStream = try await read(into: &buffer, maxBytes: count - buffer.count, deadline: deadline) {
                throw SocketError.unexpectedEndOfStream(expected: count, received: buffer.count)
            }
        }
        return buffer
    }

    /// Reads until the peer ends the stream (or `limit` bytes have arrived, whichever is first).
    public func readToEnd(limit: Int = 16 << 20, deadline: Deadline = .never) async throws -> [UInt8] {
        var buffer: [UInt8] = []
        while buffer.count < limit {
            if case .endOfStream = try await read(
                into: &buffer, maxBytes: min(65536, limit - buffer.count), deadline: deadline)
            {
                break
            }
        }
        return buffer
    }
}

extension Array where Element == UInt8 {
    /// Appends up to `maxBytes` bytes produced by `fill`, which writes into uninitialized
    /// memory and returns how many bytes it wrote. Only those bytes are kept.
    ///
    /// An empty array is filled in place (no copy); otherwise the bytes land in a temporary
    /// buffer and are appended with one copy. Nothing is zero-filled first. Layers above use it
    /// to implement ``ByteStream/read(into:maxBytes:deadline:)``.
    public mutating func appendBytes<E: Error>(
        upTo maxBytes: Int, _ fill: (UnsafeMutableRawBufferPointer) throws(E) -> Int
    ) throws(E) -> Int {
        var failure: E?
        var filled = 0
        if isEmpty {
            self = [UInt8](unsafeUninitializedCapacity: maxBytes) { storage, initialized in
                do throws(E) {
                    filled = try fill(UnsafeMutableRawBufferPointer(storage))
                } catch {
                    failure = error
                }
                initialized = filled
            }
        } else {
            withUnsafeTemporaryAllocation(byteCount: maxBytes, alignment: 1) { scratch in
                do throws(E) {
                    filled = try fill(scratch)
                } catch {
                    failure = error
                }
                append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[..<filled]))
            }
        }
        if let failure { throw failure }
        return filled
    }
}
