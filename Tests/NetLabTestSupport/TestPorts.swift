import TCPSocket

/// Fixed ports for programs that need them (`netlab serve --port-base`): chosen at random and
/// proven free by binding them first.
public enum TestPorts {
    /// `count` consecutive free loopback ports; the first of them.
    public static func freeBase(count: Int = 5) throws -> UInt16 {
        for _ in 0..<50 {
            let base = UInt16.random(in: 20000...29000)
            let listeners = (0..<count).compactMap { try? TCPListener(host: "127.0.0.1", port: base + UInt16($0)) }
            defer { for listener in listeners { listener.close() } }
            if listeners.count == count { return base }
        }
        throw SocketError.closed(operation: "no \(count) free consecutive ports in 20000…29000")
    }
}
