/// A listening socket on the readiness loop: `accept` suspends instead of blocking, and each
/// accepted connection is given the group's next loop, so connections spread over the cores.
///
/// ```swift
/// let listener = try AsyncTCPListener(host: "127.0.0.1", port: 0)
/// try await listener.serve { connection in          // one task per connection, on its loop
///     var buffer: [UInt8] = []
///     while case .bytes = try await connection.read(into: &buffer, maxBytes: 4096) {
///         try await connection.write(buffer); buffer.removeAll(keepingCapacity: true)
///     }
/// }
/// ```
public final class AsyncTCPListener: Sendable, CustomStringConvertible {
    let fd: Int32
    public let localAddress: SocketAddress
    /// The loops accepted connections are spread over.
    public let group: EventLoopGroup
    /// The loop that watches the listening socket itself.
    public let loop: EventLoop
    private let access = DescriptorGuard()

    /// Moves a bound blocking listener onto the loops of `group`.
    public init(adopting listener: TCPListener, group: EventLoopGroup = .shared) {
        self.localAddress = listener.localAddress
        self.fd = listener.releaseDescriptor()
        self.group = group
        self.loop = group.next()
    }

    /// Binds and listens like ``TCPListener/init(host:port:family:backlog:reuseAddress:)``.
    /// With `namespace`, the listener is on that network namespace's addresses (``NetworkNamespace``).
    public convenience init(
        host: String? = nil, port: UInt16, family: ListenFamily = .dualStack, backlog: Int32 = 1024,
        group: EventLoopGroup = .shared, in namespace: NetworkNamespace? = nil
    ) throws(SocketError) {
        let listener = try TCPListener(host: host, port: port, family: family, backlog: backlog, in: namespace)
        self.init(adopting: listener, group: group)
    }

    deinit {
        if !access.isSet {
            let fd = fd
            loop.forget(fd) { _ = Platform.close(fd) }
        }
    }

    public var description: String { "TCP listener on \(localAddress) (\(group.loops.count) loops)" }

    /// Waits for the next client without blocking a thread.
    public func accept(deadline: Deadline = .never) async throws -> AsyncTCPConnection {
        let target = localAddress.description
        guard access.enter() else { throw SocketError.closed(operation: "accept") }
        defer { leave() }
        while true {
            if access.isSet { throw SocketError.closed(operation: "accept") }
            if let (client, remote) = try SocketCalls.accept(fd, target: target) {
                let local: SocketAddress
                do {
                    local = try SocketCalls.localAddress(client)
                } catch {
                    _ = Platform.close(client)
                    throw error
                }
                return AsyncTCPConnection(fd: client, loop: group.next(), localAddress: local, remoteAddress: remote)
            }
            try await loop.waitUntilReady(
                fd, for: .readable, deadline: deadline, operation: "accept", target: target, isClosed: access.check)
        }
    }

    /// Accepts connections until the listener is closed or the calling task is cancelled,
    /// running `handler` for each in a child task pinned to the connection's loop, and closing
    /// the connection when the handler returns. Returns after every handler has finished.
    ///
    /// A handler's error ends only its own connection. Out of file descriptors or memory
    /// (EMFILE, ENFILE, ENOBUFS, ENOMEM), the loop pauses 10 ms and tries again rather than
    /// spinning or giving up; any other accept error ends `serve` by throwing it.
    public func serve(_ handler: @escaping @Sendable (AsyncTCPConnection) async throws -> Void) async throws {
        try await withThrowingDiscardingTaskGroup { group in
            while true {
                let connection: AsyncTCPConnection
                do {
                    connection = try await accept()
                } catch SocketError.closed {
                    return
                } catch let error as SocketError where error.isResourceExhaustion {
                    try await Task.sleep(for: .milliseconds(10))
                    continue
                }
                group.addTask(executorPreference: connection.loop) {
                    try? await handler(connection)
                    await connection.close()
                }
            }
        }
    }

    /// Stops listening; a pending ``accept(deadline:)`` or ``serve(_:)`` ends. Safe to call twice.
    public func close() async {
        let (first, idle) = access.close()
        guard first else { return }
        let (fd, loop) = (fd, loop)
        guard idle else {
            // An accept is in flight: fail its wait; it releases the descriptor as it leaves.
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

    /// The end of an accept; releases the descriptor if a close came meanwhile and this was last.
    private func leave() {
        guard access.leave() else { return }
        let (fd, loop) = (fd, loop)
        loop.forget(fd) { _ = Platform.close(fd) }
    }
}
