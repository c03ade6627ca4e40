/// Which addresses a listener given only a port accepts connections on.
public enum ListenFamily: Hashable, Sendable {
    /// One IPv6 socket with `IPV6_V6ONLY` off: accepts IPv6 and IPv4 (as `::ffff:a.b.c.d`).
    case dualStack
    /// IPv4 only (`0.0.0.0`).
    case ipv4
    /// IPv6 only (`::`, `IPV6_V6ONLY` on).
    case ipv6
}

/// A listening TCP socket with a blocking `accept`: socket → bind → listen, as in every
/// sockets textbook. ``AsyncTCPListener`` is the readiness-loop counterpart.
///
/// ```swift
/// let listener = try TCPListener(host: "127.0.0.1", port: 0)   // port 0: the kernel picks one
/// print("listening on \(listener.localAddress)")                // e.g. 127.0.0.1:41234
/// let connection = try listener.accept()
/// ```
public final class TCPListener: Sendable, CustomStringConvertible {
    let fd: Int32
    private let access = DescriptorGuard()
    /// The bound address; with port 0 requested, this carries the port the kernel chose.
    public let localAddress: SocketAddress

    /// Binds exactly `address` and listens.
    ///
    /// - Parameters:
    ///   - backlog: how many completed handshakes the kernel queues before `accept` takes them.
    ///   - reuseAddress: `SO_REUSEADDR`, so a restarted server can bind while old connections
    ///     linger in TIME_WAIT.
    ///   - ipv6Only: for an IPv6 address, whether to refuse IPv4-mapped peers (`nil`: system default).
    ///   - namespace: the network namespace to listen in (``NetworkNamespace``); nil, this
    ///     process's own.
    public init(
        bindingTo address: SocketAddress, backlog: Int32 = 128, reuseAddress: Bool = true, ipv6Only: Bool? = nil,
        in namespace: NetworkNamespace? = nil
    ) throws(SocketError) {
        if let namespace {
            fd = try namespace.run { () throws(SocketError) in
                try SocketCalls.listen(on: address, backlog: backlog, reuseAddress: reuseAddress, ipv6Only: ipv6Only)
            }
        } else {
            fd = try SocketCalls.listen(on: address, backlog: backlog, reuseAddress: reuseAddress, ipv6Only: ipv6Only)
        }
        do throws(SocketError) {
            localAddress = try SocketCalls.localAddress(fd)
        } catch {
            _ = Platform.close(fd)
            throw error
        }
    }

    /// Listens on `port` of `host` (a name or numeric address, resolved with getaddrinfo; the
    /// first address is used), or — with `host` nil — on every address of `family`.
    public convenience init(
        host: String? = nil, port: UInt16, family: ListenFamily = .dualStack, backlog: Int32 = 128,
        reuseAddress: Bool = true, in namespace: NetworkNamespace? = nil
    ) throws(SocketError) {
        let address: SocketAddress
        var ipv6Only: Bool?
        if let host {
            let wanted: SocketAddress.Family? =
                switch family {
                case .dualStack: nil
                case .ipv4: .ipv4
                case .ipv6: .ipv6
                }
            address = try SocketAddress.resolve(host: host, port: port, family: wanted)[0]
            if address.family == .ipv6 { ipv6Only = family == .ipv6 }
        } else {
            switch family {
            case .dualStack: address = .ipv6Any(port: port); ipv6Only = false
            case .ipv4: address = .ipv4Any(port: port)
            case .ipv6: address = .ipv6Any(port: port); ipv6Only = true
            }
        }
        try self.init(bindingTo: address, backlog: backlog, reuseAddress: reuseAddress, ipv6Only: ipv6Only, in: namespace)
    }

    deinit {
        if !access.isSet { _ = Platform.close(fd) }
    }

    public var description: String { "TCP listener on \(localAddress)" }

    /// Waits for the next client and returns the connection, with both addresses filled in.
    public func accept(deadline: Deadline = .never) throws(SocketError) -> TCPConnection {
        guard access.enter() else { throw .closed(operation: "accept") }
        defer { if access.leave() { _ = Platform.close(fd) } }
        while true {
            if let (client, remote) = try SocketCalls.accept(fd, target: localAddress.description) {
                do throws(SocketError) {
                    return TCPConnection(fd: client, localAddress: try SocketCalls.localAddress(client), remoteAddress: remote)
                } catch {
                    _ = Platform.close(client)
                    throw error
                }
            }
            try SocketCalls.waitBlocking(
                fd, for: .readable, deadline: deadline, operation: "accept", target: localAddress.description)
            // close() from another thread wakes the wait (see DescriptorGuard).
            if access.isSet { throw .closed(operation: "accept") }
        }
    }

    /// Stops listening. Clients not yet accepted are reset. Safe to call more than once, also
    /// while another thread waits in ``accept(deadline:)``, which then throws
    /// ``SocketError/closed(operation:)``.
    public func close() {
        let (first, idle) = access.close()
        guard first else { return }
        if idle {
            _ = Platform.close(fd)
        } else {
            // On Linux, shutting a listening socket down wakes poll(2) and accept(2); the
            // accepting thread releases the descriptor as it leaves.
            _ = Platform.shutdown(fd, Platform.shutBoth)
        }
    }

    func releaseDescriptor() -> Int32 {
        let (first, idle) = access.close()
        precondition(first && idle, "listener already closed, or in use by another thread")
        return fd
    }
}
