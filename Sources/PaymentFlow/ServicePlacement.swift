import TCPSocket

/// Where one service runs when the payment system is spread over hosts of their own (the lab
/// network, `netlab demo --net`): the address it listens on and the network namespace that
/// address belongs to.
public struct ServicePlacement: Sendable, Hashable {
    public var address: String
    public var namespace: NetworkNamespace

    public init(address: String, namespace: NetworkNamespace) {
        self.address = address
        self.namespace = namespace
    }
}
