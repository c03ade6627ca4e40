#if canImport(Glibc)
import CSystem
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a non-blocking transfer did.
enum Transfer {
    /// This many bytes moved (never 0 for a read: that is ``endOfStream``).
    case bytes(Int)
    /// The peer has shut down its write side (recv returned 0).
    case endOfStream
    /// Nothing can move now (EAGAIN): wait for readiness and try again.
    case wouldBlock
}

/// The system calls of the layer, each wrapped once: EINTR retried, EAGAIN reported as
/// "would block", every other failure turned into a ``SocketError`` that keeps the call name,
/// the target and errno. All descriptors here are non-blocking; *waiting* is done either by
/// ``waitBlocking(_:for:deadline:operation:target:)`` (the blocking API) or by the readiness
/// loop (the async API).
enum SocketCalls {
    static func failure(_ syscall: String, _ target: String, _ code: Int32 = Platform.errno) -> SocketError {
        .from(SystemCallFailure(syscall: syscall, target: target, errno: code))
    }

    static func openStreamSocket(family: Int32, target: String) throws(SocketError) -> Int32 {
        let fd = Platform.makeStreamSocket(family: family)
        guard fd >= 0 else { throw failure("socket", target) }
        return fd
    }

    /// - Precondition: `buffer` is not empty (a zero-byte read cannot tell data from EOF).
    static func recv(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, target: String) throws(SocketError)
        -> Transfer
    {
        precondition(!buffer.isEmpty, "a read needs room for at least one byte")
        while true {
            let n = Platform.recv(fd, buffer.baseAddress, buffer.count)
            if n > 0 { return .bytes(n) }
            if n == 0 { return .endOfStream }
            let code = Platform.errno
            if code == EINTR { continue }
            if Platform.isWouldBlock(code) { return .wouldBlock }
            throw failure("recv", target, code)
        }
    }

    static func send(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, target: String) throws(SocketError) -> Transfer {
        while true {
            let n = Platform.send(fd, bytes.baseAddress, bytes.count)
            if n >= 0 { return .bytes(n) }
            let code = Platform.errno
            if code == EINTR { continue }
            if Platform.isWouldBlock(code) { return .wouldBlock }
            throw failure("send", target, code)
        }
    }

    /// Accepts one pending connection; `nil` when none is waiting.
    static func accept(_ fd: Int32, target: String) throws(SocketError) -> (fd: Int32, remote: SocketAddress)? {
        while true {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let client = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Platform.accept(fd, $0, &length) }
            }
            if client >= 0 {
                let remote = withUnsafePointer(to: &storage) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { SocketAddress($0) }
                }
                guard let remote else {
                    _ = Platform.close(client)
                    continue
                }
                return (client, remote)
            }
            let code = Platform.errno
            // ECONNABORTED: the client gave up while queued; it is gone, so look at the next one.
            // accept(2) on Linux also passes on pending network errors of the new connection
            // (EPROTO, ENETDOWN, EHOSTUNREACH …) and says to treat them like EAGAIN: retry.
            if code == EINTR || Platform.isTransientAcceptError(code) { continue }
            if Platform.isWouldBlock(code) { return nil }
            throw failure("accept", target, code)
        }
    }

    /// Starts a connect. Returns true when it completed at once (loopback often does), false
    /// when it is in progress and the caller must wait for writability, then call ``finishConnect``.
    static func startConnect(_ fd: Int32, to address: SocketAddress) throws(SocketError) -> Bool {
        let rc = address.withSockAddr { Platform.connect(fd, $0, $1) }
        if rc == 0 { return true }
        let code = Platform.errno
        // EINTR: the connect carries on in the background, exactly like EINPROGRESS.
        if code == EINPROGRESS || code == EINTR { return false }
        throw failure("connect", address.description, code)
    }

    /// After a non-blocking connect became writable: did it succeed? (`SO_ERROR` tells.)
    static func finishConnect(_ fd: Int32, to address: SocketAddress) throws(SocketError) {
        var code: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &length) == 0 else {
            throw failure("getsockopt", "SO_ERROR", Platform.errno)
        }
        if code != 0 { throw failure("connect", address.description, code) }
    }

    /// Creates a socket, binds it and listens: the server half of the three calls.
    static func listen(on address: SocketAddress, backlog: Int32, reuseAddress: Bool, ipv6Only: Bool?)
        throws(SocketError) -> Int32
    {
        let target = address.description
        let fd = try openStreamSocket(family: address.protocolFamily, target: target)
        do throws(SocketError) {
            if reuseAddress { try setFlag(fd, SOL_SOCKET, SO_REUSEADDR, true, name: "SO_REUSEADDR") }
            if address.family == .ipv6, let ipv6Only {
                try setFlag(fd, Platform.ipv6Protocol, IPV6_V6ONLY, ipv6Only, name: "IPV6_V6ONLY")
            }
            let rc = address.withSockAddr { bind(fd, $0, $1) }
            guard rc == 0 else { throw failure("bind", target) }
            guard Platform.listen(fd, backlog) == 0 else { throw failure("listen", target) }
            return fd
        } catch {
            _ = Platform.close(fd)
            throw error
        }
    }

    static func setFlag(_ fd: Int32, _ level: Int32, _ option: Int32, _ on: Bool, name: String) throws(SocketError) {
        var value: Int32 = on ? 1 : 0
        guard setsockopt(fd, level, option, &value, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw failure("setsockopt", name)
        }
    }

    static func getFlag(_ fd: Int32, _ level: Int32, _ option: Int32, name: String) throws(SocketError) -> Bool {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, level, option, &value, &length) == 0 else { throw failure("getsockopt", name) }
        return value != 0
    }

    static func setNoDelay(_ fd: Int32, _ on: Bool) throws(SocketError) {
        try setFlag(fd, Platform.tcpProtocol, TCP_NODELAY, on, name: "TCP_NODELAY")
    }

    static func tcpInfo(_ fd: Int32, target: String) throws(SocketError) -> TCPInfo {
        #if os(Linux)
        var raw = netlab_tcp_info()
        guard Platform.tcpInfo(fd, into: &raw) == 0 else { throw failure("getsockopt", "TCP_INFO", Platform.errno) }
        func micros(_ value: UInt32) -> Duration { .microseconds(Int64(value)) }
        return TCPInfo(
            state: TCPInfo.State(rawValue: raw.state), congestionState: TCPInfo.CongestionState(rawValue: raw.ca_state),
            roundTripTime: micros(raw.rtt), roundTripTimeVariance: micros(raw.rttvar), minimumRoundTripTime: micros(raw.min_rtt),
            retransmissionTimeout: micros(raw.rto), congestionWindow: Int(raw.snd_cwnd),
            // Linux says "no threshold yet" with 0x7fffffff (TCP_INFINITE_SSTHRESH).
            slowStartThreshold: raw.snd_ssthresh >= 0x7FFF_FFFF ? nil : Int(raw.snd_ssthresh),
            senderMSS: Int(raw.snd_mss), receiverMSS: Int(raw.rcv_mss), unacknowledged: Int(raw.unacked), lost: Int(raw.lost),
            retransmittingNow: Int(raw.retrans), totalRetransmissions: Int(raw.total_retrans), segmentsSent: Int(raw.segs_out),
            segmentsReceived: Int(raw.segs_in), bytesSent: raw.bytes_sent, bytesAcknowledged: raw.bytes_acked,
            bytesReceived: raw.bytes_received, bytesRetransmitted: raw.bytes_retrans, deliveryRate: raw.delivery_rate,
            peerReceiveWindow: Int(raw.snd_wnd), pathMTU: Int(raw.pmtu))
        #else
        throw failure("getsockopt", "TCP_INFO (Linux only)", ENOTSUP)
        #endif
    }

    static func noDelay(_ fd: Int32) throws(SocketError) -> Bool {
        try getFlag(fd, Platform.tcpProtocol, TCP_NODELAY, name: "TCP_NODELAY")
    }

    /// `SO_LINGER {on, 0}`: the next close sends RST and drops unsent data.
    static func setLingerZero(_ fd: Int32) {
        var option = linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
    }

    static func setKeepAlive(_ fd: Int32, _ options: KeepAlive?) throws(SocketError) {
        try setFlag(fd, SOL_SOCKET, SO_KEEPALIVE, options != nil, name: "SO_KEEPALIVE")
        guard let options else { return }
        if let (name, code) = Platform.setKeepAliveTiming(
            fd, idle: Int32(clamping: options.idle.components.seconds),
            interval: Int32(clamping: options.interval.components.seconds), count: Int32(clamping: options.probes))
        {
            throw failure("setsockopt", name, code)
        }
    }

    static func shutdown(_ fd: Int32, _ direction: ShutdownDirection, target: String) throws(SocketError) {
        let how: Int32
        switch direction {
        case .read: how = Platform.shutRead
        case .write: how = Platform.shutWrite
        case .both: how = Platform.shutBoth
        }
        // ENOTCONN: the peer already tore the connection down; there is nothing left to shut.
        if Platform.shutdown(fd, how) != 0, Platform.errno != ENOTCONN {
            throw failure("shutdown", target)
        }
    }

    static func localAddress(_ fd: Int32) throws(SocketError) -> SocketAddress {
        try name(fd, syscall: "getsockname") { getsockname($0, $1, $2) }
    }

    static func remoteAddress(_ fd: Int32) throws(SocketError) -> SocketAddress {
        try name(fd, syscall: "getpeername") { getpeername($0, $1, $2) }
    }

    private static func name(
        _ fd: Int32, syscall: String,
        _ call: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32
    ) throws(SocketError) -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { call(fd, $0, &length) }
        }
        guard rc == 0 else { throw failure(syscall, "fd \(fd)") }
        let address = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { SocketAddress($0) }
        }
        guard let address else { throw .invalidAddress("\(syscall) returned a non-IP address") }
        return address
    }

    /// Blocks the calling thread until `fd` is ready for `interest` or the deadline passes.
    /// This is the whole of the blocking API's waiting: one `poll` on one descriptor.
    static func waitBlocking(_ fd: Int32, for interest: Interest, deadline: Deadline, operation: String, target: String)
        throws(SocketError)
    {
        var entry = pollfd(fd: fd, events: 0, revents: 0)
        if interest.contains(.readable) { entry.events |= Int16(POLLIN) }
        if interest.contains(.writable) { entry.events |= Int16(POLLOUT) }
        while true {
            let timeout = deadline.remainingMilliseconds
            if timeout == 0 { throw .timedOut(operation: operation, target: target, limit: deadline.limit) }
            let rc = poll(&entry, 1, timeout)
            if rc > 0 { return }
            if rc == 0 {
                // poll may wake a hair early; only a passed deadline is a timeout.
                if deadline.hasPassed { throw .timedOut(operation: operation, target: target, limit: deadline.limit) }
                continue
            }
            let code = Platform.errno
            if code == EINTR { continue }
            throw failure("poll", target, code)
        }
    }
}
