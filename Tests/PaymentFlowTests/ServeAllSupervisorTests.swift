import Foundation
import NetLab
import NetLabTestSupport
import TCPSocket
import TLSWrapper
import Testing

#if canImport(Glibc)
import Glibc
#endif

@testable import PaymentFlow

extension SeparateProcesses {
/// `netlab serve all` as a supervisor of one process per service: a service that dies takes no
/// other down and is started again; a supervisor that dies, even by SIGKILL, leaves no service
/// behind.
@Suite("netlab serve all: a process per service, supervised", .timeLimit(.minutes(3)))
struct ServeAllSupervisorTests {
    /// The process of each service, from the supervisor's `processes …` line.
    static func processes(_ output: String) -> [String: pid_t] {
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("processes ") }) else { return [:] }
        var pids: [String: pid_t] = [:]
        for part in line.dropFirst("processes ".count).split(separator: "(").first?.split(separator: ",") ?? [] {
            let words = part.split(separator: " ")
            if words.count == 2, let pid = pid_t(words[1]) { pids[String(words[0])] = pid }
        }
        return pids
    }

    /// `netlab serve all` on a fresh state folder and free ports, once it has named its processes.
    static func serveAll() async throws -> (served: ServiceProcess, state: String, base: UInt16) {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-supervised-\(UUID().uuidString)").path
        let base = try SeparateProcessTests.freePortBase()
        let served = try await ServiceProcess.start(["serve", "all", "--port-base", String(base), "--state", state], ready: "state ")
        try await EndToEndTests.eventually("the supervisor names its processes", within: .seconds(10)) {
            Self.processes(served.output).count == 5
        }
        return (served, state, base)
    }

    @Test("the bank killed with SIGKILL: the shop and the gateway keep answering, the bank is restarted and charges go through again; the supervisor killed: every service ends")
    func oneDiesTheOthersServe() async throws {
        let (served, state, base) = try await Self.serveAll()
        defer { try? FileManager.default.removeItem(atPath: state) }
        defer { served.kill(SIGKILL) }
        let pids = Self.processes(served.output)
        #expect(Set(pids.keys) == Set(PaymentActor.allCases.map(\.rawValue)), "\(served.output)")
        #expect(Set(pids.values).count == 5 && !pids.values.contains(served.pid), "five processes of their own")

        var configuration = HTTPClientConfiguration()
        configuration.tls = try TLSContext(.client(trustRootsFile: state + "/ca/ca.pem"))
        configuration.requestTimeout = .seconds(20)
        let client = HTTPClient(configuration: configuration)
        defer { Task { await client.shutdown() } }
        let gatewayURL = "https://127.0.0.1:\(base)", bankURL = "https://127.0.0.1:\(base + 1)", shopURL = "https://127.0.0.1:\(base + 2)"
        let customer = Customer(shopURL: shopURL, gatewayURL: gatewayURL, bankURL: bankURL,
                                clientKey: PaymentSystemOptions.defaultClientKey, client: client)
        func cardCharge(_ orderID: String) async throws -> Int {
            var request = HTTPClientRequest(method: .post, url: try HTTPURL(gatewayURL + "/v2/charge"))
            request.basicAuthorization(user: PaymentSystemOptions.defaultServerKey)
            let token = try await customer.tokenize(.init(number: "4811111111111114"))
            request.body = Array(#"{"payment_type":"credit_card","transaction_details":{"order_id":"\#(orderID)","gross_amount":25000},"credit_card":{"token_id":"\#(token)"}}"#.utf8)
            return try await client.execute(request).status
        }
        #expect(try await cardCharge("before") == 200)

        // The bank dies. Nobody else does.
        let bank = try #require(pids["bank"])
        kill(bank, SIGKILL)
        try await EndToEndTests.eventually("the bank's process ends", within: .seconds(10)) { ProcessTree.hasEnded(bank) }
        #expect(try await client.get(shopURL + "/").status == 200, "the shop answers while the bank is down")
        #expect(try await (200..<500).contains(client.get(gatewayURL + "/v2/no-such-order/status").status), "the gateway answers while the bank is down")
        for (name, pid) in pids where name != "bank" { #expect(!ProcessTree.hasEnded(pid), "\(name) still runs") }

        // It comes back, on the same state, and charges go through again.
        try await EndToEndTests.eventually("the supervisor restarts the bank", within: .seconds(30)) {
            served.output.contains("bank died (signal 9)") && served.output.contains("bank restarted (process ")
        }
        var charged = false
        for attempt in 0..<50 where !charged {
            charged = (try? await cardCharge("after-\(attempt)")) == 200
            if !charged { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(charged, "a charge goes through once the bank is back:\n\(served.output)")
        #expect(served.isRunning)

        // The supervisor dies without a word: its services see their lifeline close and end too.
        let services = ProcessTree.members(served.pid).filter { $0 != served.pid }
        #expect(services.count == 5, "five services run under the supervisor: \(services)")
        served.kill(SIGKILL)
        _ = await served.waitForExit()
        try await EndToEndTests.eventually("every service ends with its supervisor", within: .seconds(30)) {
            services.allSatisfy(ProcessTree.hasEnded)
        }
        #expect((try? TCPListener(host: "127.0.0.1", port: base)) != nil, "the gateway's port is free again")
    }

    @Test("a Ctrl-C at the terminal (SIGINT to every process of the group) stops every service gracefully; the supervisor exits 0")
    func gracefulStop() async throws {
        let (served, state, _) = try await Self.serveAll()
        defer { try? FileManager.default.removeItem(atPath: state) }
        defer { served.kill(SIGKILL) }
        let services = Array(Self.processes(served.output).values)
        // What a terminal does: the signal reaches the supervisor and every service at once.
        for pid in [served.pid] + services { kill(pid, SIGINT) }
        #expect(await served.waitForExit() == 0, "\(served.exitDescription):\n\(served.output)")
        #expect(services.allSatisfy(ProcessTree.hasEnded), "no service outlives a stopped supervisor")
        #expect(!served.output.contains("stopped at once"), "the services stopped gracefully:\n\(served.output)")
    }
}
}  // extension SeparateProcesses
