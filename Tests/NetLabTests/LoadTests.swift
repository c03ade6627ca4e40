import Foundation
import NetLab
import Testing

/// wrk, a real load generator, against the hello-world route: 256 connections for 10 s must
/// finish with no socket error and no non-2xx answer. (Throughput is measured in Benchmarks/,
/// never asserted here.)
@Suite("Load", .serialized, .enabled(if: commandExists("wrk")))
struct LoadTests {
    @Test("wrk: 256 connections for 10 s, zero socket errors, zero non-2xx")
    func wrk() async throws {
        try await withServer { _, address in
            let result = try await run("wrk", ["-t2", "-c256", "-d10s", "--timeout", "5s", "http://127.0.0.1:\(address.port)/hello"])
            #expect(result.status == 0, "\(result.error)")
            let report = result.output
            print(report)
            #expect(!report.contains("Socket errors"), "wrk saw socket errors:\n\(report)")
            #expect(!report.contains("Non-2xx"), "wrk saw non-2xx responses:\n\(report)")
            let requests = report.split(separator: "\n").first { $0.contains("requests in") }
                .flatMap { Int($0.trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "") } ?? 0
            #expect(requests > 1000, "wrk completed only \(requests) requests:\n\(report)")
        }
    }
}
