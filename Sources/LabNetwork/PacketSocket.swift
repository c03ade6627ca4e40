import CSystem
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TCPSocket

/// A packet(7) socket: whole Ethernet frames in and out of one interface, below IP and TCP —
/// what a capture tool and a software router both need. It is made in the interface's own
/// network namespace (interface names are per namespace).
final class PacketSocket: @unchecked Sendable {
    let fd: Int32
    /// The interface's number in its namespace (for sending).
    let index: Int32
    let interface: String

    /// Opens a packet socket bound to `interface` in `namespace` (this process's own if nil).
    init(interface: String, in namespace: NetworkNamespace?) throws(LabNetworkError) {
        let open = { @Sendable () throws(SocketError) -> (Int32, Int32) in
            var index: Int32 = 0
            let fd = netlab_packet_socket(interface, &index)
            guard fd >= 0 else { throw .from(SystemCallFailure(syscall: "socket(AF_PACKET)", target: interface, errno: errno)) }
            return (fd, index)
        }
        do {
            (fd, index) = try namespace.map { namespace throws(SocketError) in try namespace.run(open) } ?? open()
        } catch {
            throw .packetSocket(interface: interface, "\(error)")
        }
        self.interface = interface
    }

    deinit { close(fd) }

    /// Who a received frame was for (packet(7)'s `sll_pkttype`).
    enum FrameKind: Sendable {
        /// Sent to this interface's own address.
        case toThisHost
        /// Sent by this host (a packet socket sees both directions).
        case outgoing
        /// Broadcast, multicast, or another host's.
        case other
    }

    /// A frame received into the caller's scratch buffer.
    struct Received {
        var kind: FrameKind
        /// Bytes of the frame now in the buffer.
        var length: Int
        /// The frame's whole length on the wire (more than `length` when it did not fit).
        var wireLength: Int
    }

    /// The size of a scratch buffer for ``receive(into:timeoutMilliseconds:)``: the largest frame
    /// a packet socket may deliver.
    static let scratchSize = 65_536

    /// One frame into `scratch` (made ``scratchSize`` long once, then reused), waiting at most
    /// `timeoutMilliseconds`; nil on timeout or error.
    func receive(into scratch: inout [UInt8], timeoutMilliseconds: Int32) -> Received? {
        if scratch.count < Self.scratchSize { scratch = [UInt8](repeating: 0, count: Self.scratchSize) }
        var kind: Int32 = 0
        let n = scratch.withUnsafeMutableBytes { raw in
            netlab_packet_receive(fd, raw.baseAddress, UInt(raw.count), &kind, timeoutMilliseconds)
        }
        guard n > 0 else { return nil }
        let frameKind: FrameKind = kind == 0 ? .toThisHost : kind == 1 ? .outgoing : .other
        return Received(kind: frameKind, length: min(n, scratch.count), wireLength: n)
    }

    /// Discards every frame already queued on the socket (those that arrived before the reader
    /// started).
    func drain() {
        var scratch: [UInt8] = []
        while receive(into: &scratch, timeoutMilliseconds: 0) != nil {}
    }

    /// Sends one whole frame out of the interface.
    @discardableResult
    func send(_ frame: [UInt8]) -> Bool {
        frame.withUnsafeBytes { raw in netlab_packet_send(fd, index, raw.baseAddress, UInt(raw.count)) } == frame.count
    }

    /// Switches off `interface`'s transmit offloads in `namespace` (see `netlab_disable_offloads`):
    /// a veth hands frames on as its sender made them, and with offloads on those can be 64 KiB
    /// segments with their TCP checksum left for hardware that does not exist — fine for the
    /// kernel's own forwarding, wrong for frames a program forwards.
    static func disableOffloads(of interface: String, in namespace: NetworkNamespace) throws(LabNetworkError) {
        do {
            try namespace.run { () throws(SocketError) in
                guard netlab_disable_offloads(interface) == 0 else {
                    throw .from(SystemCallFailure(syscall: "ioctl(SIOCETHTOOL)", target: interface, errno: errno))
                }
            }
        } catch {
            throw .packetSocket(interface: interface, "\(error)")
        }
    }

    /// The hardware address of `interface` in `namespace`.
    static func macAddress(of interface: String, in namespace: NetworkNamespace) throws(LabNetworkError) -> [UInt8] {
        do {
            return try namespace.run { () throws(SocketError) -> [UInt8] in
                var mac = [UInt8](repeating: 0, count: 6)
                guard netlab_interface_mac(interface, &mac) == 0 else {
                    throw .from(SystemCallFailure(syscall: "ioctl(SIOCGIFHWADDR)", target: interface, errno: errno))
                }
                return mac
            }
        } catch {
            throw .packetSocket(interface: interface, "\(error)")
        }
    }
}
