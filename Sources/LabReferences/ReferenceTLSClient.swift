import NetLabConformance
import TCPSocket
import TLSWrapper

/// NetLab's own answer to lab 4: ``TLSStream``, its TLS client.
public struct ReferenceTLSClient: TLSClientWrapping {
    public init() {}

    public func connect(over stream: any ByteStream, serverName: String, trustRootsFile: String) async throws -> any ByteStream {
        var configuration = TLSConfiguration.client(trustRootsFile: trustRootsFile)
        configuration.keyLog = nil
        return try await TLSStream.connect(over: stream, context: try TLSContext(configuration), serverName: serverName)
    }
}
