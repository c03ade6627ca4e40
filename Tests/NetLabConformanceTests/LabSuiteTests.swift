import Foundation
import LabReferences
import NetLabConformance
import PaymentFlow
import TCPSocket
import TLSWrapper
import Testing

/// The labs' checks — the same code `swift run lab check N` runs against a student's code in
/// exercises/ — pass with NetLab's own implementations. (Lab 2's are in HTTPParserTests.)
@Suite("Lab checks against the reference", .serialized, .timeLimit(.minutes(3)))
struct LabSuiteTests {
    static func run(_ suite: LabSuite) async {
        for step in suite.steps {
            do {
                try await step.run()
            } catch let failure as LabFailure {
                Issue.record("step \(step.id) (\(step.title.en)): \(failure.render(.en))")
            } catch {
                Issue.record("step \(step.id) (\(step.title.en)): \(error)")
            }
        }
    }

    @Test("lab 1 (sockets) passes with ReferenceEcho")
    func sockets() async { await Self.run(SocketsLab.suite(ReferenceEcho())) }

    @Test("lab 3 (HTTP server) passes with ReferenceHTTPConnection")
    func server() async { await Self.run(ServerLab.suite(ReferenceHTTPConnection())) }

    @Test("lab 4 (TLS) passes with ReferenceTLSClient")
    func tls() async { await Self.run(TLSLab.suite(ReferenceTLSClient())) }

    @Test("lab 5 (webhooks) passes with ReferenceWebhookHandler")
    func webhooks() async { await Self.run(WebhooksLab.suite(ReferenceWebhookHandler())) }

    @Test("bilingual texts: every step has an English and an Indonesian title")
    func bilingual() {
        for suite in [SocketsLab.suite(ReferenceEcho()), ServerLab.suite(ReferenceHTTPConnection()), TLSLab.suite(ReferenceTLSClient()), WebhooksLab.suite(ReferenceWebhookHandler())] {
            for step in suite.steps { #expect(!step.title.en.isEmpty && !step.title.id.isEmpty && step.title.en != step.title.id, "\(step.id)") }
        }
    }
}

/// The checks catch what they are there to catch: wrong implementations fail them.
@Suite("Lab checks catch mistakes", .serialized, .timeLimit(.minutes(3)))
struct LabChecksCatchMistakesTests {
    /// A TLS client that switched verification off, as too many tutorials do.
    struct CarelessTLSClient: TLSClientWrapping {
        func connect(over stream: any ByteStream, serverName: String, trustRootsFile: String) async throws -> any ByteStream {
            var configuration = TLSConfiguration.client()
            configuration.certificateVerification = .noneDangerous
            configuration.keyLog = nil
            return try await TLSStream.connect(over: stream, context: try TLSContext(configuration), serverName: serverName)
        }
    }

    /// A webhook handler that believes what the notification says.
    struct CredulousWebhook: WebhookHandling {
        func handle(_ body: [UInt8], shop: any WebhookShop) async -> Int {
            guard let note = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any], let order = note["order_id"] as? String,
                let status = note["transaction_status"] as? String
            else { return 400 }
            guard shop.order(order) != nil else { return 404 }
            shop.setStatus(OrderStatus(transactionStatus: status, fraudStatus: nil), of: order)
            return 200
        }
    }

    static func failing(_ suite: LabSuite) async -> [String] {
        var failed: [String] = []
        for step in suite.steps {
            do { try await step.run() } catch { failed.append(step.id) }
        }
        return failed
    }

    /// A client that never gets through a handshake (it gives up at once).
    struct HopelessTLSClient: TLSClientWrapping {
        func connect(over stream: any ByteStream, serverName: String, trustRootsFile: String) async throws -> any ByteStream {
            throw TLSError.handshakeFailed(detail: "not written")
        }
    }

    /// An endpoint that refuses every notification.
    struct RefuseAllWebhook: WebhookHandling {
        func handle(_ body: [UInt8], shop: any WebhookShop) async -> Int { 401 }
    }

    @Test("refusing is not verifying: a client that never completes a handshake fails every TLS step; an endpoint that answers 401 to everything fails all but the unknown-order step")
    func refusingIsNotVerifying() async {
        #expect(await Self.failing(TLSLab.suite(HopelessTLSClient())) == ["4.1", "4.2", "4.3", "4.4"])
        #expect(await Self.failing(WebhooksLab.suite(RefuseAllWebhook())) == ["5.1", "5.2", "5.3", "5.4", "5.5"])
    }

    @Test("a TLS client without verification fails the mitm and wrong-name steps (and only those)")
    func carelessTLS() async {
        #expect(await Self.failing(TLSLab.suite(CarelessTLSClient())) == ["4.3", "4.4"])
    }

    @Test("a webhook handler that trusts the notification fails the forgery, tampering, confirmation and replay steps")
    func credulousWebhook() async {
        #expect(await Self.failing(WebhooksLab.suite(CredulousWebhook())) == ["5.2", "5.3", "5.4", "5.5"])
    }
}

/// The bytes the checks send: the same on every machine, so a failure seen once is seen again.
@Suite("Lab bytes")
struct LabBytesTests {
    @Test("labBytes is SplitMix64's words, least significant byte first: the same seed gives the same bytes everywhere, and a shorter run is a prefix")
    func labBytesAreStable() {
        // SplitMix64 from seed 42, computed independently (Python): the first two words' bytes.
        let expected: [UInt8] = [0x95, 0x6E, 0xEB, 0x2F, 0x26, 0x32, 0xD7, 0xBD, 0x03, 0xF1, 0x66, 0xB2, 0x33]
        #expect(labBytes(count: 13, seed: 42) == expected)
        #expect(labBytes(count: 16, seed: 42).prefix(13) == expected[...])
        #expect(labBytes(count: 0, seed: 42).isEmpty)
        #expect(labBytes(count: 1 << 20, seed: 7).count == 1 << 20)
    }
}
