import NetLabConformance
import TCPSocket

/// NetLab's own answer to lab 1: what its checks are measured against (and pass with).
public struct ReferenceEcho: EchoLab {
    public init() {}

    public func echoClient(to address: SocketAddress, message: [UInt8]) throws -> [UInt8] {
        let connection = try TCPConnection.connect(to: address, timeout: .seconds(5))
        defer { connection.close() }
        // Read while writing: a large message would otherwise fill both socket buffers and stall.
        let reader = LabThread { () throws -> [UInt8] in
            var received: [UInt8] = []
            while case .bytes = try connection.read(into: &received, maxBytes: 65536) {}
            return received
        }
        try connection.write(message)
        try connection.shutdown(.write)
        return try reader.value()
    }

    public func serveOne(on listener: TCPListener) throws {
        let connection = try listener.accept()
        defer { connection.close() }
        var buffer: [UInt8] = []
        while case .bytes = try connection.read(into: &buffer, maxBytes: 65536) {
            try connection.write(buffer)
            // Emptied after every echo: the next read appends to it.
            buffer.removeAll(keepingCapacity: true)
        }
    }

    public func serveMany(on listener: AsyncTCPListener) async throws {
        try await listener.serve { connection in
            var buffer: [UInt8] = []
            while case .bytes = try await connection.read(into: &buffer, maxBytes: 65536) {
                try await connection.write(buffer)
                buffer.removeAll(keepingCapacity: true)
            }
        }
    }
}
