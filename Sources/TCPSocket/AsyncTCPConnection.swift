import Synchronization

/// A TCP connection on an ``EventLoop``: the ``ByteStream`` that HTTP (and TLS) run over.
///
/// Reads and writes never block a thread. Each first tries the non-blocking system call; only
/// when the kernel has nothing (EAGAIN) does the task suspend until the loop sees the socket
/// ready. A task started with `Task(executorPreference: connection.loop)` resumes on the
/// loop's own thread with no hop (see the theory of operation in EventLoop.swift).
///
/// Every read and write takes a ``Deadline`` (the ``ByteStream`` conveniences without one wait
/// as long as it takes).
public final class AsyncTCPConnection: ByteStream, CustomStringConvertible {
    let fd: Int32
    /// The loop that watches this socket.
    public let loop: EventLoop
    /// ``loop``: its waits resume there.
    public var preferredExecutor: (any TaskExecutor)? { loop }
    public let localAddress: SocketAddress
    public let remoteAddress: SocketAddress
    /// `remoteAddress` as errors name it, made once: reads and writes need it at hand, and
    /// formatting an address per call showed in the server's profile.
    private let peer: String
    private let access = DescriptorGuard()
    private let operations = Atomic<UInt>(0)

    init(fd: Int32, loop: EventLoop, localAddress: SocketAddress, remoteAddress: SocketAddress) {
        self.fd = fd
        self.loop = loop
        self.localAddress = localAddress
        self.remoteAddress = remoteAddress
        peer = remoteAddress.description
    }

    /// Moves a blocking-API connection onto `loop`; the ``TCPConnection`` must not be used after.
    public convenience init(adopting connection: TCPConnection, on loop: EventLoop = EventLoopGroup.shared.next()) {
        let fd = connection.releaseDescriptor()
        self.init(fd: fd, loop: loop, localAddress: connection.localAddress, remoteAddress: connection.remoteAddress)
    }

    deinit {
        if !access.isSet {
            let fd = fd
            loop.forget(fd) { _ = Platform.close(fd) }
        }
    }

    public var description: String { "TCP \(localAddress) ⇄ \(remoteAddress) on \(loop.name)" }

    // MARK: Connecting

    /// Connects to `address` without blocking a thread; `timeout` bounds the handshake.
    /// With `namespace`, the socket is made in that network namespace (``NetworkNamespace``):
    /// the connection leaves from that host.
    public static func connect(
        to address: SocketAddress, timeout: Duration? = nil, on loop: EventLoop = EventLoopGroup.shared.next(),
        in namespace: NetworkNamespace? = nil
    ) async throws -> AsyncTCPConnection {
        let deadline = Deadline.after(timeout)
        let (family, target) = (address.protocolFamily, address.description)
        let fd =
            if let namespace {
                try await namespace.perform { () throws(SocketError) in try SocketCalls.openStreamSocket(family: family, target: target) }
            } else {
                try SocketCalls.openStreamSocket(family: family, target: target)
            }
        do {
            if try !SocketCalls.startConnect(fd, to: address) {
                try await loop.waitUntilReady(
                    fd, for: .writable, deadline: deadline, operation: "connect", target: address.description,
                    isClosed: { false })
                try SocketCalls.finishConnect(fd, to: address)
            }
            return AsyncTCPConnection(
                fd: fd, loop: loop, localAddress: try SocketCalls.localAddress(fd), remoteAddress: address)
        } catch {
            loop.forget(fd) { _ = Platform.close(fd) }
            throw error
        }
    }

    /// Resolves `host` and tries its addresses in order until one answers within `timeout`.
    public static func connect(
        host: String, port: UInt16, timeout: Duration? = nil, on loop: EventLoop = EventLoopGroup.shared.next()
    ) async throws -> AsyncTCPConnection {
        let deadline = Deadline.after(timeout)
        var lastError: any Error = SocketError.hostNotFound(host: host, code: 0, message: "no address")
        // getaddrinfo blocks; keep it off the loop thread this task may be pinned to.
        let addresses = try await SocketAddress.resolveAsync(host: host, port: port)
        for address in addresses {
            let left: Duration? = deadline.instant.map { $0 - .now }
            if let left, left <= .zero {
                throw SocketError.timedOut(operation: "connect", target: "\(host):\(port)", limit: deadline.limit)
            }
            do {
                return try await connect(to: address, timeout: left, on: loop)
            } catch {
                lastError = error
            }
        }
        throw lastError
    }

    // MARK: ByteStream

    /// Appends 1…`maxBytes` bytes, or returns `.endOfStream`; waits at most until `deadline`.
    public func read(into buffer: inout [UInt8], maxBytes: Int, deadline: Deadline) async throws -> ReadResult {
        precondition(maxBytes > 0, "read(into:maxBytes:) needs room for at least one byte")
        try await yieldIfBusy()
        guard access.enter() else { throw SocketError.closed(operation: "read") }
        defer { leave() }
        let target = peer
        while true {
            try checkOpen("read")
            var transfer = Transfer.wouldBlock
            _ = try buffer.appendBytes(upTo: maxBytes) { raw throws(SocketError) in
                transfer = try SocketCalls.recv(fd, into: raw, target: target)
                if case .bytes(let n) = transfer { return n }
                return 0
            }
            switch transfer {
            case .bytes(let n): return .bytes(n)
            case .endOfStream: return .endOfStream
            case .wouldBlock:
                try await loop.waitUntilReady(
                    fd, for: .readable, deadline: deadline, operation: "read", target: target, isClosed: access.check)
            }
        }
    }

    /// Writes every byte, suspending while the kernel's send buffer is full.
    public func write(_ bytes: [UInt8], deadline: Deadline) async throws {
        try await yieldIfBusy()
        guard access.enter() else { throw SocketError.closed(operation: "write") }
        defer { leave() }
        let target = peer
        var offset = 0
        while offset < bytes.count {
            try checkOpen("write")
            let transfer = try bytes.withUnsafeBytes { raw throws(SocketError) in
                try SocketCalls.send(fd, UnsafeRawBufferPointer(rebasing: raw[offset...]), target: target)
            }
            switch transfer {
            case .bytes(let n): offset += n
            case .endOfStream, .wouldBlock:
                try await loop.waitUntilReady(
                    fd, for: .writable, deadline: deadline, operation: "write", target: target, isClosed: access.check)
            }
        }
    }

    public func shutdownWrite() async throws {
        try shutdown(.write)
    }

    /// Half- or full shutdown without releasing the descriptor (see ``ShutdownDirection``).
    public func shutdown(_ direction: ShutdownDirection) throws(SocketError) {
        try holdingDescriptor("shutdown") { fd throws(SocketError) in
            try SocketCalls.shutdown(fd, direction, target: peer)
        }
    }

    /// Closes the socket once its loop has stopped watching it; tasks waiting on it fail with
    /// ``SocketError/closed(operation:)``. Safe to call more than once, and while another task
    /// is reading or writing: the descriptor is then released when that operation ends, so its
    /// number cannot be reused under it (see ``DescriptorGuard``).
    public func close() async {
        await close(resetting: false)
    }

    /// Sends a RST instead of a FIN (see ``TCPConnection/abort()``).
    public func abort() async {
        await close(resetting: true)
    }

    private func close(resetting: Bool) async {
        let (first, idle) = access.close()
        guard first else { return }
        let (fd, loop) = (fd, loop)
        if resetting { SocketCalls.setLingerZero(fd) }
        guard idle else {
            // Wake the operations in flight (their waits fail with `closed`); the last to leave
            // releases the descriptor.
            loop.forget(fd) {}
            return
        }
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            loop.forget(fd) {
                _ = Platform.close(fd)
                done.resume()
            }
        }
    }

    /// The end of an operation begun with `access.enter()`; releases the descriptor if a
    /// close came meanwhile and this was the last operation.
    private func leave() {
        guard access.leave() else { return }
        let fd = fd
        loop.forget(fd) { _ = Platform.close(fd) }
    }

    private func holdingDescriptor<T>(_ operation: String, _ body: (Int32) throws(SocketError) -> T)
        throws(SocketError) -> T
    {
        guard access.enter() else { throw .closed(operation: operation) }
        defer { leave() }
        return try body(fd)
    }

    // MARK: Options

    /// TCP_NODELAY (see ``TCPConnection/setNoDelay(_:)``).
    public func setNoDelay(_ on: Bool = true) throws(SocketError) {
        try holdingDescriptor("setNoDelay") { fd throws(SocketError) in try SocketCalls.setNoDelay(fd, on) }
    }

    /// What the kernel knows about this connection: RTT, congestion window, retransmissions
    /// (``TCPInfo``; Linux only).
    public func tcpInfo() throws(SocketError) -> TCPInfo {
        try holdingDescriptor("tcpInfo") { fd throws(SocketError) in try SocketCalls.tcpInfo(fd, target: peer) }
    }

    /// TCP keep-alive probes, or none with `nil`.
    public func setKeepAlive(_ options: KeepAlive?) throws(SocketError) {
        try holdingDescriptor("setKeepAlive") { fd throws(SocketError) in try SocketCalls.setKeepAlive(fd, options) }
    }

    /// A connection whose reads and writes never hit EAGAIN never suspends, and a task pinned
    /// to the loop would then keep every other connection on that loop waiting. Every 16th
    /// operation yields, which lets the loop run one round of other work.
    private func yieldIfBusy() async throws {
        if operations.add(1, ordering: .relaxed).newValue % 16 == 0 { await Task.yield() }
    }

    private func checkOpen(_ operation: String) throws(SocketError) {
        if access.isSet { throw .closed(operation: operation) }
    }
}
