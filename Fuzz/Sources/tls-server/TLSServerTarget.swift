// Fuzz target: the TLS engine as a server, fed hostile records from a client (in pieces, as
// a network delivers them), driven as TLSStream drives it.
//
// Invariants: no crash or hang; every failure is a TLSError; a bounded number of steps.
import FuzzSupport
import TLSWrapper

func fuzzTLSServer(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    guard let engine = try? TLSEngine(context: TLSFixtures.server) else { return 0 }
    var handshaken = false
    var buffer: [UInt8] = []
    for piece in SplitPoints.pieces(of: input) {
        engine.receiveFromNetwork(Array(piece))
        do {
            if !handshaken {
                handshaken = try engine.handshake() == .complete
            }
            if handshaken {
                // Drain whatever application data the records held, as a server would.
                var steps = 0
                while case .bytes = try engine.read(into: &buffer, maxBytes: 16_384) {
                    buffer.removeAll(keepingCapacity: true)
                    steps += 1
                    Oracle.require(steps <= input.count + 1, "read made progress \(steps) times on \(input.count) bytes")
                }
            }
        } catch {
            _ = engine.takeForNetwork()  // the alert a server would send
            return 0
        }
        _ = engine.takeForNetwork()
    }
    engine.receiveEndOfStream()
    _ = try? engine.read(into: &buffer, maxBytes: 16_384)
    return 0
}
