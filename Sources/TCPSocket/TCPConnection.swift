/// One TCP connection with a plain blocking API: each call waits (up to its deadline) and
/// then returns. This is what lab 1 teaches first; ``AsyncTCPConnection`` is the same thing on
/// the readiness loop for servers that hold many connections.
///
/// ```swift
/// let connection = try TCPConnection.connect(host: "localhost", port: 7, timeout: .seconds(2))
/// try connection.write("hello\n")
/// if let reply = try connection.read(upTo: 1024, deadline: .after(.seconds(2))) { … }
/// connection.close()
/// ```
///
/// Under the hood the socket is non-blocking and every wait is a `poll` with the remaining
/// time, so deadlines are exact and a stalled peer gives ``SocketError/timedOut(operation:target:limit:)``.
/// One thread may read while another writes. ``close()`` must not race with a call in flight.
public final class TCPConnection: Sendable, CustomStringConvertible {
    let fd: Int32
    private let access = DescriptorGuard()
    /// Our end of the connection.
    public let localAddress: SocketAddress
    /// The peer's end.
    public let remoteAddress: SocketAddress

    init(fd: Int32, localAddress: SocketAddress, remoteAddress: SocketAddress) {
        self.fd = fd
        self.localAddress = localAddress
        self.remoteAddress = remoteAddress
    }

    deinit {
        if !access.isSet { _ = Platform.close(fd) }
    }

    public var description: String { "TCP \(localAddress) ⇄ \(remoteAddress)" }

    // MARK: Connecting

    /// Opens a connection to `address` (socket, non-blocking connect, wait for writability,
    /// check `SO_ERROR`). `timeout` bounds the three-way handshake.
    public static func connect(to address: SocketAddress, timeout: Duration? = nil) throws(SocketError)
        -> TCPConnection
    {
        let deadline = Deadline.after(timeout)
        let fd = try SocketCalls.openStreamSocket(family: address.protocolFamily, target: address.description)
        do throws(SocketError) {
            if try !SocketCalls.startConnect(fd, to: address) {
                try SocketCalls.waitBlocking(
                    fd, for: .writable, deadline: deadline, operation: "connect", target: address.description)
                try SocketCalls.finishConnect(fd, to: address)
            }
            return TCPConnection(fd: fd, localAddress: try SocketCalls.localAddress(fd), remoteAddress: address)
        } catch {
            _ = Platform.close(fd)
            throw error
        }
    }

    /// Resolves `host` and connects to its addresses in the resolver's order until one answers.
    /// `timeout` bounds the whole attempt; the last address's error is thrown if none answers.
    public static func connect(host: String, port: UInt16, timeout: Duration? = nil) throws(SocketError)
        -> TCPConnection
    {
        let deadline = Deadline.after(timeout)
        var lastError = SocketError.hostNotFound(host: host, code: 0, message: "no address")
        for address in try SocketAddress.resolve(host: host, port: port) {
            let left: Duration? = deadline.instant.map { $0 - .now }
            if let left, left <= .zero {
                throw .timedOut(operation: "connect", target: "\(host):\(port)", limit: deadline.limit)
            }
            do throws(SocketError) {
                return try connect(to: address, timeout: left)
            } catch {
                lastError = error
            }
        }
        throw lastError
    }

    // MARK: Reading

    /// Reads at most `buffer.count` bytes into `buffer`, waiting until some arrive, the peer
    /// ends the stream, or the deadline passes.
    ///
    /// - Precondition: `buffer` is not empty.
    public func read(into buffer: UnsafeMutableRawBufferPointer, deadline: Deadline = .never) throws(SocketError)
        -> ReadResult
    {
        try holdingDescriptor("read") { fd throws(SocketError) in
            while true {
                switch try SocketCalls.recv(fd, into: buffer, target: remoteAddress.description) {
                case .bytes(let n): return .bytes(n)
                case .endOfStream: return .endOfStream
                case .wouldBlock:
                    try SocketCalls.waitBlocking(
                        fd, for: .readable, deadline: deadline, operation: "read", target: remoteAddress.description)
                    // close() from another thread wakes the wait (see DescriptorGuard).
                    try checkOpen("read")
                }
            }
        }
    }

    /// Appends up to `maxBytes` bytes to `buffer`; see ``read(into:deadline:)-(UnsafeMutableRawBufferPointer,_)``.
    public func read(into buffer: inout [UInt8], maxBytes: Int = 65536, deadline: Deadline = .never)
        throws(SocketError) -> ReadResult
    {
        var result = ReadResult.endOfStream
        _ = try buffer.appendBytes(upTo: maxBytes) { raw throws(SocketError) in
            result = try read(into: raw, deadline: deadline)
            if case .bytes(let n) = result { return n }
            return 0
        }
        return result
    }

    /// Reads up to `maxBytes` bytes; `nil` means the peer ended the stream.
    public func read(upTo maxBytes: Int = 65536, deadline: Deadline = .never) throws(SocketError) -> [UInt8]? {
        var buffer: [UInt8] = []
        if case .endOfStream = try read(into: &buffer, maxBytes: maxBytes, deadline: deadline) { return nil }
        return buffer
    }

    /// Reads exactly `count` bytes, looping over partial reads. Throws
    /// ``SocketError/unexpectedEndOfStream(expected:received:)`` if the stream ends first.
    public func readExactly(_ count: Int, deadline: Deadline = .never) throws(SocketError) -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(count)
        while buffer.count < count {
            if case .endOfStream = try read(into: &buffer, maxBytes: count - buffer.count, deadline: deadline) {
                throw .unexpectedEndOfStream(expected: count, received: buffer.count)
            }
        }
        return buffer
    }

    // MARK: Writing

    /// Writes every byte, looping over partial writes (the kernel may take fewer bytes than
    /// offered when its send buffer is full) and waiting for room up to the deadline.
    public func write(_ bytes: UnsafeRawBufferPointer, deadline: Deadline = .never) throws(SocketError) {
        try holdingDescriptor("write") { fd throws(SocketError) in
            var offset = 0
            while offset < bytes.count {
                let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
                switch try SocketCalls.send(fd, rest, target: remoteAddress.description) {
                case .bytes(let n): offset += n
                case .endOfStream, .wouldBlock:
                    try SocketCalls.waitBlocking(
                        fd, for: .writable, deadline: deadline, operation: "write", target: remoteAddress.description)
                    try checkOpen("write")
                }
            }
        }
    }

    /// Writes every byte of `bytes`.
    public func write(_ bytes: some Collection<UInt8>, deadline: Deadline = .never) throws(SocketError) {
        var failure: SocketError?
        let send = { (raw: UnsafeRawBufferPointer) in
            do throws(SocketError) { try self.write(raw, deadline: deadline) } catch { failure = error }
        }
        if bytes.withContiguousStorageIfAvailable({ send(UnsafeRawBufferPointer($0)) }) == nil {
            Array(bytes).withUnsafeBytes(send)
        }
        if let failure { throw failure }
    }

    /// Writes the UTF-8 bytes of `text`.
    public func write(_ text: String, deadline: Deadline = .never) throws(SocketError) {
        try write(Array(text.utf8), deadline: deadline)
    }

    // MARK: Options and closing

    /// TCP_NODELAY: send small segments at once instead of waiting to coalesce them (Nagle).
    /// Request/response protocols want it on; otherwise Nagle plus delayed ACKs add ~40 ms.
    public func setNoDelay(_ on: Bool = true) throws(SocketError) {
        try holdingDescriptor("setNoDelay") { fd throws(SocketError) in try SocketCalls.setNoDelay(fd, on) }
    }

    /// What the kernel knows about this connection: RTT, congestion window, retransmissions
    /// (``TCPInfo``; Linux only).
    public func tcpInfo() throws(SocketError) -> TCPInfo {
        try holdingDescriptor("tcpInfo") { fd throws(SocketError) in try SocketCalls.tcpInfo(fd, target: remoteAddress.description) }
    }

    /// Turns TCP keep-alive probes on with the given timing, or off with `nil`.
    public func setKeepAlive(_ options: KeepAlive?) throws(SocketError) {
        try holdingDescriptor("setKeepAlive") { fd throws(SocketError) in try SocketCalls.setKeepAlive(fd, options) }
    }

    /// Whether TCP_NODELAY is on.
    public func noDelay() throws(SocketError) -> Bool {
        try holdingDescriptor("noDelay") { fd throws(SocketError) in try SocketCalls.noDelay(fd) }
    }

    /// Half-close: `.write` sends a FIN (the peer reads end-of-stream) while we can still read.
    public func shutdown(_ direction: ShutdownDirection) throws(SocketError) {
        try holdingDescriptor("shutdown") { fd throws(SocketError) in
            try SocketCalls.shutdown(fd, direction, target: remoteAddress.description)
        }
    }

    /// Closes the socket. Safe to call more than once, and from another thread than one that
    /// is reading or writing: that read or write wakes and throws ``SocketError/closed(operation:)``,
    /// and the descriptor is released once it has (so its number cannot be reused under it).
    public func close() {
        let (first, idle) = access.close()
        guard first else { return }
        if idle {
            _ = Platform.close(fd)
        } else {
            // Wakes a thread waiting in poll(2); the last operation out releases the descriptor.
            _ = Platform.shutdown(fd, Platform.shutBoth)
        }
    }

    /// Aborts the connection: closes it with `SO_LINGER` set to zero, so the kernel discards
    /// unsent data and sends a RST instead of a FIN. The peer's next read or write fails with
    /// ``SocketError/connectionReset(_:)``. Use it to teach (and test) what a reset looks like.
    public func abort() {
        let (first, idle) = access.close()
        guard first else { return }
        SocketCalls.setLingerZero(fd)
        if idle {
            _ = Platform.close(fd)
        } else {
            // A thread is inside a read or write: wake it (the peer may see a FIN before the
            // RST); the last operation out closes the descriptor.
            _ = Platform.shutdown(fd, Platform.shutBoth)
        }
    }

    /// Hands the descriptor to another owner (the async API) without closing it.
    func releaseDescriptor() -> Int32 {
        let (first, idle) = access.close()
        precondition(first && idle, "connection already closed, or in use by another thread")
        return fd
    }

    /// Runs `body` with the descriptor held open: a concurrent ``close()`` cannot release it
    /// until `body` returns (see ``DescriptorGuard``).
    private func holdingDescriptor<T>(_ operation: String, _ body: (Int32) throws(SocketError) -> T)
        throws(SocketError) -> T
    {
        guard access.enter() else { throw .closed(operation: operation) }
        defer { if access.leave() { _ = Platform.close(fd) } }
        return try body(fd)
    }

    private func checkOpen(_ operation: String) throws(SocketError) {
        if access.isSet { throw .closed(operation: operation) }
    }
}
