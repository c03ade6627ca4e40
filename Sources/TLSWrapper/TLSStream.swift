import Synchronization
import TCPSocket

/// TLS over any ``ByteStream``, and itself a ``ByteStream``: plaintext above, ciphertext below.
///
/// ```swift
/// let tcp = try await AsyncTCPConnection.connect(host: "localhost", port: 8443)
/// let tls = try await TLSStream.connect(over: tcp, context: clientContext, serverName: "localhost")
/// try await tls.write("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
/// ```
///
/// The driver is thin: each step runs the sans-IO ``TLSEngine`` under a lock (never across an
/// `await`: OpenSSL's error queue is per thread), then moves the ciphertext it produced to the
/// stream below. Ciphertext leaves in the order the engine made it: whoever holds the write
/// turn sends everything pending, so a read (which may produce TLS 1.3 post-handshake
/// messages) and a write in flight at the same time cannot reorder records.
///
/// Closing: ``close()`` sends close_notify, then closes the stream below. A peer that closes
/// the transport without close_notify makes reads throw ``TLSError/closedWithoutCloseNotify``
/// — a truncation, never a clean end of stream.
public final class TLSStream: ByteStream, CustomStringConvertible {
    public let underlying: any ByteStream
    private let engine: Locked<TLSEngine>
    private let writeTurn = WriteTurn()
    private let closed = Atomic<Bool>(false)
    /// A write to the stream below failed midway: the record stream is cut, nothing more is valid.
    private let broken = Atomic<Bool>(false)
    /// What the handshake negotiated.
    public let facts: TLSConnectionFacts
    /// The most ciphertext taken from the stream below at once: four records of 16 KiB plus
    /// their headers and tags.
    static var ciphertextReadSize: Int { 4 * (16 * 1024 + 256) }

    private init(underlying: any ByteStream, engine: sending TLSEngine, facts: TLSConnectionFacts) {
        self.underlying = underlying
        self.engine = Locked(engine)
        self.facts = facts
    }

    public var description: String { "TLS (\(facts.version) \(facts.cipherSuite)) over \(underlying)" }

    /// The stream below's: TLS waits on nothing of its own.
    public var preferredExecutor: (any TaskExecutor)? { underlying.preferredExecutor }

    /// TLS 1.3 session tickets the server has sent so far (they arrive after the handshake, with
    /// the first data read; a wire tap sees them as application_data records).
    public var sessionTicketsReceived: Int { engine.withLock { $0.sessionTicketsReceived } }

    /// Client side: handshakes over `stream` with `serverName` as SNI and as the name the
    /// certificate must carry (unless verification is off). Throws a ``TLSError`` saying why
    /// the server is not trusted.
    public static func connect(
        over stream: any ByteStream, context: TLSContext, serverName: String?, deadline: Deadline = .after(.seconds(10))
    ) async throws -> TLSStream {
        try await handshake(over: stream, deadline: deadline) { try TLSEngine(context: context, serverName: serverName) }
    }

    /// Server side: handshakes as the server of `context`.
    public static func accept(over stream: any ByteStream, context: TLSContext, deadline: Deadline = .after(.seconds(10)))
        async throws -> TLSStream
    {
        try await handshake(over: stream, deadline: deadline) { try TLSEngine(context: context) }
    }

    /// The handshake's round trips run on the stream's event loop (``ByteStream/preferredExecutor``):
    /// the peer's deadline covers every round, and a caller on a busy cooperative pool would
    /// otherwise wait for a thread between them while that deadline runs out.
    private static func handshake(over stream: any ByteStream, deadline: Deadline, engine makeEngine: () throws -> TLSEngine)
        async throws -> TLSStream
    {
        try await withTaskExecutorPreference(stream.preferredExecutor) {
            try await handshakeRounds(over: stream, engine: try makeEngine(), deadline: deadline)
        }
    }

    private static func handshakeRounds(over stream: any ByteStream, engine: sending TLSEngine, deadline: Deadline) async throws -> TLSStream {
        var input: [UInt8] = []
        while true {
            let progress: TLSHandshakeProgress
            do {
                progress = try engine.handshake()
            } catch {
                // Send the alert that explains the failure to the peer before giving up.
                let alert = engine.takeForNetwork()
                if !alert.isEmpty { try? await stream.write(alert, deadline: .after(.seconds(1))) }
                throw error
            }
            let outbound = engine.takeForNetwork()
            if !outbound.isEmpty { try await stream.write(outbound, deadline: deadline) }
            if progress == .complete { break }
            input.removeAll(keepingCapacity: true)
            switch try await stream.read(into: &input, maxBytes: 16 * 1024, deadline: deadline) {
            case .bytes: engine.receiveFromNetwork(input)
            case .endOfStream: engine.receiveEndOfStream()
            }
        }
        let facts = engine.facts
        return TLSStream(underlying: stream, engine: engine, facts: facts)
    }

    // MARK: ByteStream

    public func read(into buffer: inout [UInt8], maxBytes: Int, deadline: Deadline) async throws -> ReadResult {
        var input: [UInt8] = []
        while true {
            try checkUsable()
            let progress: TLSReadProgress
            do {
                progress = try engine.withLock { engine throws(TLSError) in
                    try engine.read(into: &buffer, maxBytes: maxBytes)
                }
            } catch {
                try? await flushIfFree(deadline: .after(.seconds(1)))  // the alert that says why
                throw error
            }
            // Reads can produce output too (TLS 1.3 key updates, our close_notify reply); a
            // reader sends it only if nobody else is sending, so it never waits behind a writer.
            try await flushIfFree(deadline: deadline)
            switch progress {
            case .bytes(let n): return .bytes(n)
            case .closed: return .endOfStream
            case .needsInput:
                input.removeAll(keepingCapacity: true)
                // Up to four full records per read of the stream below: bulk data needs fewer
                // reads (and wake-ups), and the engine decrypts them all in one call.
                switch try await underlying.read(into: &input, maxBytes: Self.ciphertextReadSize, deadline: deadline) {
                case .bytes: engine.withLock { $0.receiveFromNetwork(input) }
                case .endOfStream: engine.withLock { $0.receiveEndOfStream() }
                }
            }
        }
    }

    public func write(_ bytes: [UInt8], deadline: Deadline) async throws {
        try checkUsable()
        do {
            try engine.withLock { engine throws(TLSError) in try engine.write(bytes) }
        } catch {
            try? await flushIfFree(deadline: .after(.seconds(1)))
            throw error
        }
        try await flush(deadline: deadline)
    }

    /// Sends close_notify: the peer reads end-of-stream. Reading still works.
    public func shutdownWrite() async throws {
        try checkUsable()
        engine.withLock { $0.shutdown() }
        try await flush(deadline: .after(.seconds(5)))
    }

    /// Sends close_notify (when the write turn is free, within a second) and closes the stream below.
    public func close() async {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        if !broken.load(ordering: .acquiring), writeTurn.tryTake() {
            engine.withLock { $0.shutdown() }
            try? await drain(deadline: .after(.seconds(1)))
            writeTurn.release()
        }
        await underlying.close()
    }

    /// Ends the connection as a failure: no close_notify (the peer reads a truncation, never a
    /// clean end of stream), and the stream below is aborted too (a TCP reset).
    public func abort() async {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        await underlying.abort()
    }

    private func checkUsable() throws {
        if closed.load(ordering: .acquiring) { throw TLSError.closed }
        if broken.load(ordering: .acquiring) {
            throw TLSError.protocolError(detail: "an earlier write to the connection failed midway; the TLS record stream is cut")
        }
    }

    /// Writer's flush: waits for the write turn, then sends until nothing is pending (including
    /// what other tasks produced meanwhile), so its own bytes are out when it returns.
    private func flush(deadline: Deadline) async throws {
        await writeTurn.take()
        try await drainThenReleaseTurn(deadline: deadline)
    }

    /// Reader's flush: only when there is output and the turn is free; a holder drains the rest.
    private func flushIfFree(deadline: Deadline) async throws {
        guard engine.withLock({ $0.hasPendingOutput }), writeTurn.tryTake() else { return }
        try await drainThenReleaseTurn(deadline: deadline)
    }

    private func drainThenReleaseTurn(deadline: Deadline) async throws {
        do {
            try await drain(deadline: deadline)
            writeTurn.release()
        } catch {
            writeTurn.release()
            throw error
        }
    }

    /// Sends pending ciphertext, in order, until there is none. Call with the write turn held.
    private func drain(deadline: Deadline) async throws {
        while true {
            let outbound = engine.withLock { $0.takeForNetwork() }
            if outbound.isEmpty { return }
            do {
                try await underlying.write(outbound, deadline: deadline)
            } catch {
                broken.store(true, ordering: .releasing)
                throw error
            }
        }
    }
}
