#if canImport(Glibc)
import CSystem
import Glibc
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

    /// One frame into `buffer` (its count set to the frame's length), waiting at most
    /// `timeoutMilliseconds`. Returns nil on timeout, else whether the frame left this host
    /// (true) or arrived (false).
    func receive(into buffer: inout [UInt8], timeoutMilliseconds: Int32) -> Bool? {
        if buffer.count < 65_536 { buffer = [UInt8](repeating: 0, count: 65_536) }
        var outgoing: Int32 = 0
        let n = buffer.withUnsafeMutableBytes { raw in
            netlab_packet_receive(fd, raw.baseAddress, UInt(raw.count), &outgoing, timeoutMilliseconds)
        }
        guard n > 0 else { return nil }
        buffer.removeLast(buffer.count - n)
        return outgoing != 0
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
