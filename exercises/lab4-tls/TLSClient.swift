// Lab 4 — TLS. Drive NetLab's sans-IO TLS engine over a byte stream, as a client; see README.md
// (English) or README.id.md (Bahasa Indonesia). Run `swift run lab check 4`.
import NetLabConformance
import TCPSocket
import TLSWrapper

public struct StudentTLSClient: TLSClientWrapping {
    public init() {}

    /// Step 1: make the context — `TLSContext(.client(trustRootsFile: trustRootsFile))` — and a
    ///         `TLSEngine(context:serverName:)`.
    /// Step 2: the handshake loop: `engine.handshake()`; write `engine.takeForNetwork()` to
    ///         `stream`; while it says `.needsInput`, read from `stream` into
    ///         `engine.receiveFromNetwork`. A `TLSError` thrown here means "not trusted": let it out.
    /// Step 3: return a `ByteStream` of your own: `write` = `engine.write` then send what the
    ///         engine has for the network; `read` = `engine.read`, feeding it from `stream`
    ///         while it needs input, `.endOfStream` once it says `.closed`.
    public func connect(over stream: any ByteStream, serverName: String, trustRootsFile: String) async throws -> any ByteStream {
        throw LabFailure.notImplemented("connect(over:serverName:trustRootsFile:)", step: "1")
    }
}
