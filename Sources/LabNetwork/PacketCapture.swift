#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TCPSocket

/// Records every frame in and out of one host's interface into a pcap file, with NetLab's own
/// packet socket and pcap writer (what `tcpdump -w` does). Open the file in Wireshark with the
/// TLS key log beside it (`SSLKEYLOGFILE`) and the HTTPS inside is readable.
///
/// Contract: a capture runs on a thread of its own until ``stop()``; every capture must be
/// stopped (its thread holds it, and its namespace, until then).
public final class PacketCapture: @unchecked Sendable {
    public let path: String
    private let socket: PacketSocket
    private let writer: PcapWriter
    private let stopping = Locked(false)
    private let finished = Locked<Result<Int, LabNetworkError>?>(nil)
    private var thread: pthread_t?

    /// Starts capturing `interface` in `namespace` into a new file at `path`.
    public init(interface: String, in namespace: NetworkNamespace?, to path: String) throws(LabNetworkError) {
        self.path = path
        socket = try PacketSocket(interface: interface, in: namespace)
        writer = try PcapWriter(path: path)
        var handle = pthread_t()
        let box = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(&handle, nil, { raw in
            let capture = Unmanaged<PacketCapture>.fromOpaque(raw!).takeRetainedValue()
            capture.loop()
            return nil
        }, box)
        guard rc == 0 else {
            Unmanaged<PacketCapture>.fromOpaque(box).release()
            throw .captureFile(path: path, "cannot start the capture thread: \(String(cString: strerror(rc)))")
        }
        thread = handle
    }

    /// Stops, writes what is left and returns how many frames the file holds.
    @discardableResult
    public func stop() throws(LabNetworkError) -> Int {
        stopping.withLock { $0 = true }
        if let thread {
            pthread_join(thread, nil)
            self.thread = nil
        }
        return try finished.withLock { $0 }?.get() ?? writer.frames
    }

    private func loop() {
        var scratch: [UInt8] = []
        var outcome: Result<Int, LabNetworkError> = .success(0)
        while !stopping.withLock({ $0 }) {
            guard let frame = socket.receive(into: &scratch, timeoutMilliseconds: 50) else { continue }
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            do {
                try writer.append(scratch[..<frame.length], wireLength: frame.wireLength, seconds: now.tv_sec, microseconds: now.tv_nsec / 1000)
            } catch {
                outcome = .failure(error)
                break
            }
        }
        writer.flush()
        if case .success = outcome { outcome = .success(writer.frames) }
        finished.withLock { $0 = outcome }
    }
}
