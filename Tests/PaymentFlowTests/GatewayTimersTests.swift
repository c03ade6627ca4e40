import Foundation
import HTTPParser
import NetLab
import NetLabTestSupport
import Testing

@testable import PaymentFlow

/// The timers among several instances: recovery is every instance's, the rest only the
/// turn-holder's (``InstanceCoordinator``).
@Suite("Gateway timers and the timers' turn", .timeLimit(.minutes(2)))
struct GatewayTimersTests {
    /// Another instance holds the turn; `visible` says whether this one's session is up.
    struct NotMyTurn: InstanceCoordinator {
        var visible = true
        func holdsTimerTurn() -> Bool { false }
        func onMerchantsChanged(_ handler: @escaping @Sendable () -> Void) {}
        var isVisible: Bool { visible }
    }

    @Test("/healthz: 200 while the store answers and the instance is visible to the others, 503 when its session is down")
    func health() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-health-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try await BlockingWork.run { try SQLiteGatewayStore(path: directory + "/gateway.sqlite") }
        let accounts = try await BlockingWork.run { try SQLiteAccountStore(database: store.database) }
        let client = HTTPClient(configuration: HTTPClientConfiguration())
        let configuration = GatewayConfiguration(bankURL: "https://127.0.0.1:9", publicURL: "", bankNoticeKey: "k")
        for (visible, status) in [(true, 200), (false, 503)] {
            let gateway = Gateway(configuration: configuration, store: store, accounts: accounts, bankClient: client,
                                  coordinator: NotMyTurn(visible: visible))
            let response = try await gateway.router.handle(HTTPRequest(head: HTTPRequestHead(method: .get, target: "/healthz")))
            #expect(response.status == status, "visible \(visible)")
        }
        await client.shutdown()
    }

    @Test("without the turn an instance still recovers its charges cut off mid-call, and leaves expiry to the turn's holder")
    func recoveryWithoutTheTurn() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-timers-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (store, accounts) = try await BlockingWork.run {
            let store = try SQLiteGatewayStore(path: directory + "/gateway.sqlite")
            try store.saveMerchant(MerchantAccount(merchantID: "M", serverKey: "SB-Mid-server-m", clientKey: "SB-Mid-client-m"))
            // A card charge left at the bank by an error (its call in flight, nobody running it),
            // and a VA whose expiry has passed.
            var cut = GatewayTransaction(transactionID: "t-cut", orderID: "o-cut", merchantID: "M", paymentType: .creditCard,
                                         state: .reserved(grossAmount: Rupiah(10000), isCard: true), transactionTime: "2026-12-06 10:00:00")
            cut.charge = .authorizing(fraud: .accept)
            var va = GatewayTransaction(transactionID: "t-va", orderID: "o-va", merchantID: "M", paymentType: .bankTransfer,
                                        state: TransactionState(status: .pending, fraud: nil, grossAmount: Rupiah(20000), isCard: false),
                                        transactionTime: "2026-12-06 10:00:00")
            va.expiryTime = "2026-12-06 11:00:00"
            va.announced = true
            va.charge = .finished
            #expect(try store.reserve(cut))
            #expect(try store.reserve(va))
            return (store, try SQLiteAccountStore(database: store.database))
        }
        var configuration = GatewayConfiguration(bankURL: "https://127.0.0.1:9", publicURL: "", bankNoticeKey: "k")
        configuration.now = { Timestamp.parseMidtrans("2026-12-06 12:00:00 +0700")! }
        let client = HTTPClient(configuration: HTTPClientConfiguration())
        let notHolder = Gateway(configuration: configuration, store: store, accounts: accounts, bankClient: client, coordinator: NotMyTurn())
        _ = try await notHolder.applyTimers()
        let afterFirst = try await BlockingWork.run { (try store.find(merchantID: "M", id: "t-cut"), try store.find(merchantID: "M", id: "t-va")) }
        #expect(afterFirst.0?.state.status == .failure, "its own cut-off charge is abandoned without the turn")
        #expect(afterFirst.1?.state.status == .pending, "expiry waits for the turn's holder")

        let holder = Gateway(configuration: configuration, store: store, accounts: accounts, bankClient: client, coordinator: SoleInstance())
        _ = try await holder.applyTimers()
        let afterSecond = try await BlockingWork.run { try store.find(merchantID: "M", id: "t-va") }
        #expect(afterSecond?.state.status == .expire, "the holder expires it")
        await client.shutdown()
    }
}
