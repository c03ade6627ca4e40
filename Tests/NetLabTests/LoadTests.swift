import Foundation
import NetLab
import TCPSocket
import Testing

/// wrk, a real load generator, against the hello-world route: 256 connections for 10 s must
/// finish with no socket error and no non-2xx answer. (Throughput is measured in Benchmarks/,
/// never asserted here.)
@Suite("Load", .serialized, .enabled(if: commandExists("wrk")), .timeLimit(.minutes(3)))
struct LoadTests {
    @Test("wrk: 256 connections for 10 s, zero socket errors, zero non-2xx")
    func wrk() async throws {
        // Loops of its own: the load must not monopolise the shared loops every other test uses.
        let group = try EventLoopGroup(loopCount: 2, name: "load-test")
        defer { group.shutdown() }
        let server = HTTPServer(router: testRouter())
        let address = try await server.start(host: "127.0.0.1", port: 0, group: group)
        do {
            // wrk runs niced: on a small machine it would otherwise take most of the CPU for 10 s
            // while every other test starts, and their TLS handshakes would miss their deadlines.
            // The server answers as fast as wrk asks; the check is errors, not speed.
            let result = try await run("nice", ["-n", "10", "wrk", "-t2", "-c256", "-d10s", "--timeout", "5s", "http://127.0.0.1:\(address.port)/hello"])
            #expect(result.status == 0, "\(result.error)")
            let report = result.output
            print(report)
            #expect(!report.contains("Socket errors"), "wrk saw socket errors:\n\(report)")
            #expect(!report.contains("Non-2xx"), "wrk saw non-2xx responses:\n\(report)")
            let requests = report.split(separator: "\n").first { $0.contains("requests in") }
                .flatMap { Int($0.trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "") } ?? 0
            #expect(requests > 1000, "wrk completed only \(requests) requests:\n\(report)")
        }
        await server.shutdown(gracePeriod: .seconds(2))
    }
}
