import Foundation
import HTTPParser
import NetLab
import NetLabTestSupport
import TCPSocket
import TLSWrapper
import Testing

#if canImport(Glibc)
import Glibc
#endif

@testable import PaymentFlow

/// `netlab serve all` (a supervisor and a process per service) under `ulimit -n 1024`, attacked
/// from other loopback addresses than its customer's: 1,100 idle connections to the gateway
/// (past the descriptor limit), TLS garbage at the bank, stalled handshakes at the shop, a 10 MB
/// body and 100 000 brackets at the gateway, and invalid UTF-8 at every service. Throughout, a
/// normal client pays and browses and no service dies; afterwards the descriptors and memory of
/// all its processes come back. (Once, 1,100 idle connections killed the whole `serve all`.)
extension SeparateProcesses {
@Suite("Hostile traffic against serve all at 1,024 descriptors", .timeLimit(.minutes(5)))
struct HostileTrafficTests {
    /// A blocking TCP connection from `source` (a loopback address) to 127.0.0.1:`port`.
    static func connect(from source: String, to port: UInt16) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        func address(_ host: String, _ port: UInt16) -> sockaddr_in {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            _ = inet_pton(AF_INET, host, &address.sin_addr)
            return address
        }
        var local = address(source, 0), remote = address("127.0.0.1", port)
        let bound = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        let connected = withUnsafePointer(to: &remote) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, connected == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    /// Whether the server has closed `fd` (a read would end), without waiting.
    static func closedByPeer(_ fd: Int32) -> Bool {
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, Int32(MSG_DONTWAIT) | Int32(MSG_PEEK))
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    }

    /// `POST /v2/charge` with the lab merchant's key and `body` as it is.
    static func charge(_ client: HTTPClient, _ gateway: String, body: [UInt8]) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(method: .post, url: try HTTPURL(gateway + "/v2/charge"))
        request.basicAuthorization(user: PaymentSystemOptions.defaultServerKey)
        try request.fields.append(name: "Content-Type", value: "application/json")
        request.body = body
        return try await client.execute(request)
    }

    @Test("1,100 idle connections, TLS garbage, stalled handshakes and hostile bodies: every service keeps serving; descriptors and memory come back")
    func flood() async throws {
        _ = OpenFileLimit.raiseToMaximum()  // this test holds 1,500 sockets itself
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-hostile-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: state) }
        let base = try SeparateProcessTests.freePortBase()
        let served = try await ServiceProcess.start(
            ["serve", "all", "--port-base", String(base), "--state", state], ready: "state ", openFileLimit: 1024)
        defer { served.kill(SIGKILL) }
        let gateway = "https://127.0.0.1:\(base)", bank = "https://127.0.0.1:\(base + 1)", shop = "https://127.0.0.1:\(base + 2)"

        func client() throws -> HTTPClient {
            var configuration = HTTPClientConfiguration()
            configuration.tls = try TLSContext(.client(trustRootsFile: state + "/ca/ca.pem"))
            configuration.requestTimeout = .seconds(20)
            return HTTPClient(configuration: configuration)
        }
        var paid = 0
        func customerVisits(_ client: HTTPClient) async throws {
            paid += 1
            var request = HTTPClientRequest(method: .post, url: try HTTPURL(gateway + "/v2/charge"))
            request.basicAuthorization(user: PaymentSystemOptions.defaultServerKey)
            request.body = Array(#"{"payment_type":"qris","transaction_details":{"order_id":"calm-\#(paid)","gross_amount":15000}}"#.utf8)
            #expect(try await client.execute(request).status == 200, "a charge while under attack")
            #expect(try await client.get(shop + "/").status == 200, "the shop's page while under attack")
            #expect(try await client.get(bank + "/atm").status == 200, "the bank's ATM page while under attack")
        }

        // The baseline: warmed up by a customer, whose client then leaves.
        let warm = try client()
        for _ in 0..<3 { try await customerVisits(warm) }
        await warm.shutdown()
        try await Task.sleep(for: .seconds(1))
        let baseline = (descriptors: ProcessTree.descriptors(served.pid), memory: ProcessTree.residentMiB(served.pid))

        // The attack, from 127.0.0.2-4, while a customer keeps coming from 127.0.0.1.
        let idle = (0..<1_100).compactMap { _ in Self.connect(from: "127.0.0.2", to: base) }
        let garbage = (0..<200).compactMap { _ in Self.connect(from: "127.0.0.3", to: base + 1) }
        for fd in garbage {
            let junk = (0..<1024).map { _ in UInt8.random(in: 0...255) }
            _ = junk.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }
        let stalled = (0..<200).compactMap { _ in Self.connect(from: "127.0.0.4", to: base + 2) }
        for fd in stalled {
            let recordStart: [UInt8] = [0x16, 0x03, 0x01, 0x02, 0x00]  // a handshake record that never comes
            _ = recordStart.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }
        let peak = ProcessTree.descriptors(served.pid)
        let attacker = try client()
        let huge = try? await Self.charge(attacker, gateway, body: Array(repeating: UInt8(ascii: " "), count: 10 * 1024 * 1024))
        #expect(huge == nil || huge?.status == 413)
        #expect(try await Self.charge(attacker, gateway, body: Array(repeating: UInt8(ascii: "["), count: 100_000)).status == 400)
        #expect(try await Self.charge(attacker, gateway, body: [0x7B, 0xC3, 0x28, 0xFF, 0x7D]).status == 400)
        // Invalid UTF-8 everywhere else: a JSON body to the POST routes that read one, at every
        // service (refused), and percent-encoded in paths and queries (never a 500).
        let invalid: [UInt8] = [0x7B, 0x22, 0xC3, 0x28, 0x22, 0x3A, 0xFF, 0xFE, 0x7D]
        let fraud = "https://127.0.0.1:\(base + 3)", notification = "https://127.0.0.1:\(base + 4)"
        for url in [gateway + "/snap/v1/transactions", gateway + "/v1/payment-links", gateway + "/v2/pay/account", gateway + "/v1/subscriptions",
                    gateway + "/v2/capture", shop + "/orders", shop + "/checkout", shop + "/notifications", bank + "/va", bank + "/cards/authorize",
                    bank + "/atm/pay", fraud + "/v1/assess"] {
            var request = HTTPClientRequest(method: .post, url: try HTTPURL(url))
            request.basicAuthorization(user: PaymentSystemOptions.defaultServerKey)
            try request.fields.append(name: "Content-Type", value: "application/json")
            request.body = invalid
            let status = try await attacker.execute(request).status
            #expect((400..<500).contains(status), "POST \(url) with invalid UTF-8 answered \(status)")
        }
        for url in [gateway + "/v2/%C3%28%FF/status", shop + "/orders/%FF%FE", bank + "/va/%C3%28", notification + "/v1/notifications?order_id=%C3%28"] {
            var request = HTTPClientRequest(method: .get, url: try HTTPURL(url))
            request.basicAuthorization(user: PaymentSystemOptions.defaultServerKey)
            let status = try await attacker.execute(request).status
            #expect(status < 500, "GET \(url) answered \(status)")
        }
        await attacker.shutdown()

        let customer = try client()
        for _ in 0..<3 { try await customerVisits(customer) }
        // The gateway took at most half its cap (¼ of 1,024) from one address and closed the rest.
        try await EndToEndTests.eventually("the gateway closes the idle connections past its per-address cap", within: .seconds(30)) {
            idle.filter { !Self.closedByPeer($0) }.count <= 128
        }
        try await customerVisits(customer)
        #expect(served.isRunning, "serve all is still running")
        #expect(!served.output.contains(" died ("), "no service died:\n\(served.output)")

        for fd in idle + garbage + stalled { close(fd) }
        await customer.shutdown()
        // Pooled keep-alive connections between the services may differ by a few.
        try await EndToEndTests.eventually("descriptors come back to the baseline", within: .seconds(30)) {
            ProcessTree.descriptors(served.pid) <= baseline.descriptors + 16
        }
        let after = (descriptors: ProcessTree.descriptors(served.pid), memory: ProcessTree.residentMiB(served.pid))
        #expect(after.memory <= baseline.memory + 64, "resident memory \(baseline.memory) MiB before, \(after.memory) MiB after")
        print("hostile traffic: idle \(idle.count), garbage \(garbage.count), stalled \(stalled.count) connections; "
              + "descriptors \(baseline.descriptors) → peak \(peak) → \(after.descriptors); RSS \(baseline.memory) → \(after.memory) MiB")
        served.kill(SIGTERM)
        _ = await served.waitForExit()
    }
}
}
