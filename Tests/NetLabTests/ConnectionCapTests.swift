import Foundation
import HTTPParser
import NetLab
import TCPSocket
import Testing

/// The server's connection cap: one connection more than the cap is closed at once, the ones
/// admitted are served, and a freed place admits the next. (A flood of idle connections once
/// took a whole `serve all` down: descriptors ran out under libdispatch.)
@Suite("Connection cap", .timeLimit(.minutes(3)))
struct ConnectionCapTests {
    /// Sends a GET on `connection` and reads until the response's end or the peer's close:
    /// true when a 200 came back.
    static func served(_ connection: AsyncTCPConnection) async -> Bool {
        do {
            try await connection.write(Array("GET /hello HTTP/1.1\r\nHost: lab\r\n\r\n".utf8), deadline: .after(.seconds(20)))
            var received: [UInt8] = []  // read(into:) appends
            while !String(decoding: received, as: UTF8.self).contains("Hello, World!") {
                guard case .bytes = try await connection.read(into: &received, maxBytes: 4096, deadline: .after(.seconds(20))) else { return false }
            }
            return String(decoding: received, as: UTF8.self).hasPrefix("HTTP/1.1 200")
        } catch {
            return false  // reset by the server: refused
        }
    }

    @Test("with a cap of 8, of 9 connections exactly 8 are served and 1 is closed; a freed place admits a new one")
    func cap() async throws {
        var configuration = HTTPServerConfiguration()
        configuration.maxConnections = 8
        configuration.maxConnectionsPerAddress = 8  // else half the cap: every client here is 127.0.0.1
        var router = Router()
        LabRoutes.install(into: &router)
        try await withServer(configuration: configuration, router: router) { _, address in
            var connections: [AsyncTCPConnection] = []
            for _ in 0..<9 { connections.append(try await AsyncTCPConnection.connect(to: address, timeout: .seconds(10))) }
            var results: [Bool] = []
            for connection in connections { results.append(await Self.served(connection)) }
            #expect(results.filter { $0 }.count == 8 && results.filter { !$0 }.count == 1, "\(results)")
            // Close one that was served: its place frees, and a new connection gets in.
            let servedIndex = try #require(results.firstIndex(of: true))
            await connections[servedIndex].close()
            var admitted = false
            for _ in 0..<200 where !admitted {
                let fresh = try await AsyncTCPConnection.connect(to: address, timeout: .seconds(10))
                admitted = await Self.served(fresh)
                await fresh.close()
                if !admitted { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(admitted, "a place freed by a closed connection is given to the next")
            for connection in connections { await connection.close() }
        }
    }

    @Test("with 3 per address, a 4th connection from the same IP is closed while the first 3 are served")
    func perAddressCap() async throws {
        var configuration = HTTPServerConfiguration()
        configuration.maxConnectionsPerAddress = 3
        var router = Router()
        LabRoutes.install(into: &router)
        try await withServer(configuration: configuration, router: router) { _, address in
            var connections: [AsyncTCPConnection] = []
            for _ in 0..<4 { connections.append(try await AsyncTCPConnection.connect(to: address, timeout: .seconds(10))) }
            var results: [Bool] = []
            for connection in connections { results.append(await Self.served(connection)) }
            #expect(results.filter { $0 }.count == 3 && results.filter { !$0 }.count == 1, "\(results)")
            for connection in connections { await connection.close() }
        }
    }
}
