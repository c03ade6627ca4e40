/// Two connected stream sockets in one process (`socketpair(AF_UNIX, SOCK_STREAM)`): a
/// ready-made connection for tests, with no port, no listener and no handshake.
///
/// The pair behaves like a TCP connection for reading, writing, half-close and close; it has
/// no IP addresses, so both ends report the placeholder address `0.0.0.0:0`.
public enum SocketPair {
    /// Two blocking-API ends.
    public static func makeConnections() throws(SocketError) -> (TCPConnection, TCPConnection) {
        var fds: [Int32] = [-1, -1]
        guard Platform.socketPair(&fds) == 0 else {
            throw SocketCalls.failure("socketpair", "AF_UNIX")
        }
        let none = SocketAddress.ipv4Any(port: 0)
        return (
            TCPConnection(fd: fds[0], localAddress: none, remoteAddress: none),
            TCPConnection(fd: fds[1], localAddress: none, remoteAddress: none)
        )
    }

    /// Two ``ByteStream`` ends on the readiness loop.
    public static func makeStreams(on group: EventLoopGroup = .shared) throws(SocketError)
        -> (AsyncTCPConnection, AsyncTCPConnection)
    {
        let (a, b) = try makeConnections()
        return (AsyncTCPConnection(adopting: a, on: group.next()), AsyncTCPConnection(adopting: b, on: group.next()))
    }
}
