import Foundation
import Testing

@testable import PaymentFlow

/// The SQLite store's atomic steps, on a file of its own.
@Suite("Gateway store", .timeLimit(.minutes(3)))
struct GatewayStoreTests {
    static func withStore(_ body: (SQLiteGatewayStore) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-store-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteGatewayStore(path: directory + "/gateway.sqlite")
        try store.saveMerchant(MerchantAccount(merchantID: "M", serverKey: "SB-Mid-server-m", clientKey: "SB-Mid-client-m",
                                               notificationURL: "https://127.0.0.1:9/notifications"))
        try body(store)
    }

    static func charge(_ id: String, order: String) -> GatewayTransaction {
        GatewayTransaction(transactionID: id, orderID: order, merchantID: "M", paymentType: "credit_card",
                           state: TransactionState(status: .pending, fraud: nil, grossAmount: Rupiah(10000), isCard: true),
                           transactionTime: "2026-11-25 10:00:00")
    }

    @Test("abandoning is atomic: an answered charge is never abandoned; an abandoned one frees its order id and owes a reversal")
    func abandon() throws {
        try Self.withStore { store in
            #expect(try store.reserve(Self.charge("t-1", order: "o-1")))
            #expect(try store.reserve(Self.charge("t-2", order: "o-2")))
            // t-1's outcome is recorded (announced) before recovery gets to it.
            _ = try store.update(merchantID: "M", id: "t-1") { $0.state = TransactionState(status: .capture, fraud: .accept, grossAmount: Rupiah(10000), isCard: true) }
            #expect(try store.unannounced().map(\.transactionID) == ["t-2"])
            #expect(try store.abandon(merchantID: "M", id: "t-1", evenIfAnnounced: false) == false)
            #expect(try store.find(merchantID: "M", id: "t-1")?.state.status == .capture)
            // t-2 was never answered: abandoned once, and only once.
            #expect(try store.abandon(merchantID: "M", id: "t-2", evenIfAnnounced: false))
            #expect(try store.abandon(merchantID: "M", id: "t-2", evenIfAnnounced: false) == false)
            #expect(try store.find(merchantID: "M", id: "t-2")?.state.status == .failure)
            #expect(try store.notifications(merchantID: "M", orderID: "o-2").isEmpty, "a failure sends no webhook")
            #expect(try store.reversalsOwed().map(\.transactionID) == ["t-2"])
            #expect(try store.reserve(Self.charge("t-3", order: "o-2")), "the order id is free for the merchant's retry")
            try store.reversalDone(merchantID: "M", id: "t-2")
            #expect(try store.reversalsOwed().isEmpty)
        }
    }

    @Test("an announced pending charge (3-D Secure waiting) is abandoned only when asked to include announced ones")
    func abandonAnnounced() throws {
        try Self.withStore { store in
            #expect(try store.reserve(Self.charge("t-1", order: "o-1")))
            _ = try store.update(merchantID: "M", id: "t-1") { $0.extra["waiting"] = "otp" }  // first outcome: pending, announced
            #expect(try store.unannounced().isEmpty)
            #expect(try store.abandon(merchantID: "M", id: "t-1", evenIfAnnounced: false) == false)
            #expect(try store.abandon(merchantID: "M", id: "t-1", evenIfAnnounced: true))
            #expect(try store.reversalsOwed().map(\.transactionID) == ["t-1"])
        }
    }
}
