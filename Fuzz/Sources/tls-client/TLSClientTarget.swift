// Fuzz target: the TLS engine as a client that verifies the server: it sends its ClientHello
// and is fed hostile bytes as the server's answer.
//
// Invariants: no crash or hang; every failure is a TLSError; and the handshake never
// completes — finishing it would need the lab authority's signature on a certificate for
// `localhost` and the private key's proof, which no fuzzed input can hold.
import FuzzSupport
import TLSWrapper

func fuzzTLSClient(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    guard let engine = try? TLSEngine(context: TLSFixtures.client, serverName: "localhost") else { return 0 }
    guard (try? engine.handshake()) == .needsInput else { return 0 }
    _ = engine.takeForNetwork()  // the ClientHello
    for piece in SplitPoints.pieces(of: input) {
        engine.receiveFromNetwork(Array(piece))
        do {
            let progress = try engine.handshake()
            Oracle.require(progress != .complete, "the client finished a handshake with a fuzzed server")
        } catch {
            return 0
        }
        _ = engine.takeForNetwork()
    }
    engine.receiveEndOfStream()
    _ = try? engine.handshake()
    return 0
}
