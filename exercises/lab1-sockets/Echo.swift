// Lab 1 — Sockets. Complete the three functions below; see README.md (English) or README.id.md
// (Bahasa Indonesia). Run `swift run lab check 1` after each one.
import NetLabConformance
import TCPSocket

public struct StudentEcho: EchoLab {
    public init() {}

    /// Step 1: connect to `address`, send all of `message`, close your writing side
    /// (`shutdown(.write)`), read until end of stream, and return what came back.
    public func echoClient(to address: SocketAddress, message: [UInt8]) throws -> [UInt8] {
        throw LabFailure.notImplemented("echoClient(to:message:)", step: "1")
    }

    /// Step 2: accept one connection on `listener`, send back every byte you read until the
    /// client closes its side, then close the connection and return.
    public func serveOne(on listener: TCPListener) throws {
        throw LabFailure.notImplemented("serveOne(on:)", step: "2")
    }

    /// Step 3: serve every connection `listener` accepts, all at the same time, echoing each,
    /// until the task is cancelled (hint: `listener.serve { connection in … }`).
    public func serveMany(on listener: AsyncTCPListener) async throws {
        throw LabFailure.notImplemented("serveMany(on:)", step: "3")
    }
}
