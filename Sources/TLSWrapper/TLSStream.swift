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
    private let engine: Mutex<TLSEngine>
    private let writeTurn = FIFOLock()
    private let closed = Atomic<Bool>(false)
    /// What the handshake negotiated.
    public let facts: TLSConnectionFacts

    private init(underlying: any ByteStream, engine: TLSEngine, facts: TLSConnectionFacts) {
        self.underlying = underlying
        self.engine = Mutex(engine)
        self.facts = facts
    }

    public var description: String { "TLS (\(facts.version) \(facts.cipherSuite)) over \(underlying)" }

    /// Client side: handshakes over `stream` with `serverName` as SNI and as the name the
    /// certificate must carry (unless verification is off). Throws a ``TLSError`` saying why
    /// the server is not trusted.
    public static func connect(
        over stream: any ByteStream, context: TLSContext, serverName: String?, deadline: Deadline = .after(.seconds(10))
    ) async throws -> TLSStream {
        try await handshake(over: stream, engine: try TLSEngine(context: context, serverName: serverName), deadline: deadline)
    }

    /// Server side: handshakes as the server of `context`.
    public static func accept(over stream: any ByteStream, context: TLSContext, deadline: Deadline = .after(.seconds(10)))
        async throws -> TLSStream
    {
        try await handshake(over: stream, engine: try TLSEngine(context: context), deadline: deadline)
    }

    private static func handshake(over stream: any ByteStream, engine: TLSEngine, deadline: Deadline) async throws -> TLSStream {
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
        return TLSStream(underlying: stream, engine: engine, facts: engine.facts)
    }

    // MARK: ByteStream

    public func read(into buffer: inout [UInt8], maxBytes: Int, deadline: Deadline) async throws -> ReadResult {
        var input: [UInt8] = []
        while true {
            if closed.load(ordering: .acquiring) { throw TLSError.closed }
            let progress = try engine.withLock { engine throws(TLSError) in
                try engine.read(into: &buffer, maxBytes: maxBytes)
            }
            // Reads can produce output too (TLS 1.3 key updates, alerts, our close_notify reply).
            try await flush(deadline: deadline)
            switch progress {
            case .bytes(let n): return .bytes(n)
            case .closed: return .endOfStream
            case .needsInput:
                input.removeAll(keepingCapacity: true)
                switch try await underlying.read(into: &input, maxBytes: 16 * 1024 + 512, deadline: deadline) {
                case .bytes: engine.withLock { $0.receiveFromNetwork(input) }
                case .endOfStream: engine.withLock { $0.receiveEndOfStream() }
                }
            }
        }
    }

    public func write(_ bytes: [UInt8], deadline: Deadline) async throws {
        if closed.load(ordering: .acquiring) { throw TLSError.closed }
        try engine.withLock { engine throws(TLSError) in try engine.write(bytes) }
        try await flush(deadline: deadline)
    }

    /// Sends close_notify: the peer reads end-of-stream. Reading still works.
    public func shutdownWrite() async throws {
        engine.withLock { $0.shutdown() }
        try await flush(deadline: .after(.seconds(5)))
    }

    /// Sends close_notify (best effort, one second at most) and closes the stream below.
    public func close() async {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        engine.withLock { $0.shutdown() }
        try? await flush(deadline: .after(.seconds(1)))
        await underlying.close()
    }

    /// Sends every byte of ciphertext the engine has made so far, in order.
    private func flush(deadline: Deadline) async throws {
        await writeTurn.lock()
        let outbound = engine.withLock { $0.takeForNetwork() }
        do {
            if !outbound.isEmpty { try await underlying.write(outbound, deadline: deadline) }
            await writeTurn.unlock()
        } catch {
            await writeTurn.unlock()
            throw error
        }
    }
}

/// A first-come, first-served async lock: the turn to write ciphertext.
actor FIFOLock {
    private var held = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func lock() async {
        if !held {
            held = true
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func unlock() {
        if waiting.isEmpty {
            held = false
        } else {
            waiting.removeFirst().resume()
        }
    }
}

// A TLSStream owns its engine behind a Mutex: one step at a time, from whichever task holds it.
extension TLSEngine: @unchecked Sendable {}
