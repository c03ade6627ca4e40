// NetLab's TLS beside OpenSSL's own tools, as JSON lines:
//   handshakes  — new TLS connections per second from NetLab's client to a server (full, then
//                 resumed with the session cache), for comparison with `openssl s_time -new/-reuse`
//                 against the same server;
//   bulk        — MB/s of plaintext through TLSStream over a socketpair (client → server).
//
// usage: tls-bench-netlab handshakes HOST PORT CAFILE SECONDS
//        tls-bench-netlab bulk CERTDIR MEGABYTES
import Foundation
import TCPSocket
import TLSWrapper

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

let args = CommandLine.arguments
switch args.count > 1 ? args[1] : "" {
case "handshakes":
    try await handshakes(host: args[2], port: UInt16(args[3])!, caFile: args[4], duration: Double(args[5])!)
case "bulk":
    try await bulk(directory: args[2], megabytes: Int(args[3])!)
default:
    FileHandle.standardError.write(Data("usage: tls-bench-netlab handshakes HOST PORT CAFILE SECONDS | bulk CERTDIR MEGABYTES\n".utf8))
    exit(2)
}

/// Off the main actor (top-level code is main-actor isolated): every `await` in a loop there
/// would hop to the main thread and back, which is the benchmark's cost, not TLS's.
nonisolated func bulk(directory: String, megabytes: Int) async throws {
    let ca = try LabCertificateAuthority(directory: directory)
    let leaf = try ca.issue(name: "localhost")
    var serverConfiguration = TLSConfiguration.server(certificateChainFile: leaf.certificatePath, privateKeyFile: leaf.privateKeyPath)
    serverConfiguration.keyLog = nil
    var clientConfiguration = TLSConfiguration.client(trustRootsFile: ca.certificatePath)
    clientConfiguration.keyLog = nil
    let (a, b) = try SocketPair.makeStreams()
    let serverContext = try TLSContext(serverConfiguration)
    let server = Task { try await TLSStream.accept(over: b, context: serverContext) }
    let client = try await TLSStream.connect(over: a, context: try TLSContext(clientConfiguration), serverName: "localhost")
    let receiver = try await server.value
    let total = megabytes << 20
    let piece = [UInt8](repeating: 0x5A, count: 16 * 1024)
    let start = ContinuousClock.now
    let sender = Task {
        var sent = 0
        while sent < total {
            try await client.write(piece)
            sent += piece.count
        }
    }
    var received = 0
    var buffer: [UInt8] = []
    buffer.reserveCapacity(64 * 1024)
    while received < total {
        buffer.removeAll(keepingCapacity: true)
        guard case .bytes(let n) = try await receiver.read(into: &buffer, maxBytes: 64 * 1024) else { break }
        received += n
    }
    try await sender.value
    let elapsed = seconds(ContinuousClock.now - start)
    print("{\"peer\":\"netlab\",\"test\":\"bulk\",\"cipher\":\"\(client.facts.cipherSuite)\",\"bytes\":\(received),\"seconds\":\(elapsed),\"mb_s\":\(Double(received) / elapsed / 1e6)}")
    await client.close()
    await receiver.close()
}

/// New connections per second, full handshakes then resumed ones (off the main actor too).
nonisolated func handshakes(host: String, port: UInt16, caFile: String, duration: Double) async throws {
    for resumed in [false, true] {
        var configuration = TLSConfiguration.client(trustRootsFile: caFile)
        configuration.keyLog = nil
        // Full handshakes: one context that never offers a session (as `s_time -new`).
        configuration.resumesSessions = resumed
        let context = try TLSContext(configuration)
        // Like `s_time`, one client thread: the task runs on the loop that watches its sockets,
        // so a readiness wake-up resumes it in place (no hop to the global pool and back).
        let loop = EventLoopGroup.shared.next()
        let (count, resumedCount, elapsed) = try await Task(executorPreference: loop) {
        var count = 0
        var resumedCount = 0
        let start = ContinuousClock.now
        while seconds(ContinuousClock.now - start) < duration {
            let tcp = try await AsyncTCPConnection.connect(
                to: try SocketAddress(ipAddress: host, port: port), timeout: .seconds(5), on: loop)
            let stream = try await TLSStream.connect(over: tcp, context: context, serverName: "localhost")
            if resumed {
                // Read the server's answer so TLS 1.3 tickets arrive and are cached.
                try await stream.write("GET / HTTP/1.0\r\n\r\n")
                _ = try? await stream.readToEnd(limit: 1 << 20, deadline: .after(.seconds(5)))
            }
            if stream.facts.resumed { resumedCount += 1 }
            await stream.close()
            count += 1
        }
        return (count, resumedCount, seconds(ContinuousClock.now - start))
        }.value
        print("{\"peer\":\"netlab\",\"test\":\"\(resumed ? "resumed" : "full")\",\"handshakes\":\(count),\"resumed\":\(resumedCount),\"seconds\":\(elapsed),\"per_s\":\(Double(count) / elapsed)}")
    }
}
