import Foundation
import LabNetwork
import HTTPParser
import NetLab
import PaymentFlow
import TLSWrapper

/// The stories `netlab demo` can tell (`--scenario NAME`, `--list`).
public enum DemoScenario: String, CaseIterable, Sendable {
    case cardAccept = "card-accept"
    case cardDeny = "card-deny"
    case fraudChallenge = "fraud-challenge"
    case vaTransfer = "va-transfer"
    case expire
    case refund
    case merchantDown = "merchant-down"
    case forgedWebhook = "forged-webhook"
    case mitm
    case gatewayRestart = "gateway-restart"
    case cstore
    case qris
    case savedCard = "saved-card"
    case gopayLinked = "gopay-linked"
    case subscription
    case smuggling
    case lossyCheckout = "lossy-checkout"
    case slowBank = "slow-bank"
    case partition
    case handshakeRTT = "handshake-rtt"

    /// Stories only the lab network can tell (`netlab demo --net`).
    public var needsNetwork: Bool { [.lossyCheckout, .slowBank, .partition, .handshakeRTT].contains(self) }

    public var summary: String {
        switch self {
        case .cardAccept: "card payment with 3-D Secure: token, charge, fraud check, bank, OTP, webhook, paid"
        case .cardDeny: "the bank declines the card; the order is denied"
        case .fraudChallenge: "fraud detection challenges a card payment; the merchant reviews and approves it"
        case .vaTransfer: "bank transfer: a virtual account, paid at the bank's ATM, settled, webhook, paid"
        case .expire: "a virtual account nobody pays expires; the bank then refuses the late payment"
        case .refund: "a card payment settles (D+1, compressed), then the merchant refunds it"
        case .merchantDown: "the merchant's webhook endpoint is down; the gateway retries until it is back"
        case .forgedWebhook: "an attacker posts a forged webhook and replays a genuine one; the merchant is not fooled"
        case .mitm: "an interceptor with another CA's certificate: refused by TLS verification; with verification off it steals the card"
        case .gatewayRestart: "the gateway stops mid-payment; restarted on its SQLite state, it remembers everything and delivers the webhook"
        case .cstore: "pay at an Indomaret counter: a payment code instead of a card, settled when the till takes the cash"
        case .qris: "QRIS: the gateway draws the QR code, the wallet reads the EMVCo payload (account, amount, CRC) and pays"
        case .savedCard: "a saved card: registered once (sealed at the gateway), then charged with its saved_token_id, no card number or CVV again"
        case .gopayLinked: "GoPay tokenization: the customer links the wallet once with the PIN; the shop then charges it without a redirect"
        case .subscription: "a subscription: the gateway's timers charge a saved card every day (a day lasts a second here), three times"
        case .smuggling: "request smuggling: a CL.TE edge proxy in front of the shop; a parser that lets Transfer-Encoding win hands a customer's order to an attacker"
        case .lossyCheckout: "(--net) 5 % loss on the customer's link: TCP retransmits, the payment completes; a retried charge is not charged twice"
        case .slowBank: "(--net) the bank's link takes 3 s: the gateway's timeout fires, the charge is in doubt, reversed, the customer told honestly"
        case .partition: "(--net) the gateway loses the bank: 5xx answers, the bank's notice waits, the order settles when the route returns"
        case .handshakeRTT: "(--net) 150 ms RTT: the round trips of TCP + TLS 1.3 + HTTP, new vs keep-alive vs resumed"
        }
    }
}

/// How to run the demo.
public struct DemoOptions: Sendable {
    public var scenario: DemoScenario = .cardAccept
    /// HTTP instead of HTTPS between every actor (the `mitm` scenario always uses TLS).
    public var plaintext = false
    /// Where TLS secrets go (NSS key-log lines, for Wireshark); nil: nowhere.
    public var keyLog: (@Sendable (String) -> Void)?
    /// The HTTP parser of every actor (a student's, from exercises/); nil: NetLab's.
    public var httpParser: HTTPParserFactory?
    /// The lab network the actors run on, each on its own host (it must be up: `netlab demo
    /// --net` builds it); nil: everything on loopback.
    public var network: Topology?
    /// NetLab's router on that network: the network stories change its links as they go.
    public var router: LinkEmulator?

    public init(scenario: DemoScenario = .cardAccept, plaintext: Bool = false) {
        self.scenario = scenario
        self.plaintext = plaintext
    }
}

/// How a run ended.
public struct DemoResult: Sendable {
    public var succeeded: Bool
    /// One line: what happened (or what went wrong).
    public var summary: String
}

/// Runs a scenario with every actor in this process on loopback, on a fresh state folder (a
/// new lab CA, new SQLite files) that is removed afterwards, and records each step.
public enum DemoRunner {
    public static func run(_ options: DemoOptions, recorder: DemoRecorder) async -> DemoResult {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-demo-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: state) }
        var context = DemoContext(options: options, recorder: recorder, state: state)
        do {
            let result = try await context.play()
            await context.stop()
            return result
        } catch {
            await context.stop()
            recorder.add(DemoStep(layer: .note, kind: .note, from: "demo", title: "The demo stopped: \(error)", outcome: "failed"))
            return DemoResult(succeeded: false, summary: "the \(options.scenario.rawValue) scenario failed: \(error)")
        }
    }
}

/// What the scenarios need: the running system, the recorder, and small helpers.
struct DemoContext {
    let options: DemoOptions
    let recorder: DemoRecorder
    let state: String
    var system: PaymentSystem?
    /// Where the webhooks wait for their place in the story (stories that release each one).
    let webhooks = WebhookGate()

    init(options: DemoOptions, recorder: DemoRecorder, state: String) {
        self.options = options
        self.recorder = recorder
        self.state = state
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    var plaintext: Bool { options.plaintext && options.scenario != .mitm }

    func systemOptions() -> PaymentSystemOptions {
        var o = PaymentSystemOptions(stateDirectory: state)
        o.plaintext = plaintext
        o.retryPolicy = RetryPolicy(delays: [.milliseconds(150), .milliseconds(300), .milliseconds(600), .seconds(1), .seconds(2)], jitter: false)
        o.pollInterval = .milliseconds(20)
        o.httpParser = options.httpParser
        o.paymentExpiry = options.scenario == .expire ? .milliseconds(1500) : .seconds(24 * 3600)
        o.settlementDelay = options.scenario == .refund ? .seconds(1) : .seconds(24 * 3600)
        // The subscription story's days last a second.
        if options.scenario == .subscription { o.subscriptionClockScale = 1.0 / 86400 }
        // A slow or cut link must make the services give up in seconds, not in 20.
        if options.scenario == .slowBank || options.scenario == .partition { o.serviceCallTimeout = DemoContext.serviceCallTimeout }
        let recorder = self.recorder, webhooks = self.webhooks
        o.observer = { recorder.observe($0) }
        o.webhookGate = { await webhooks.pass($0) }
        if let network = options.network {
            // The gateway's three services share its host; the bank and the shop have their own.
            let hostOf: [PaymentActor: Topology.Host] = [
                .gateway: .gateway, .fraud: .gateway, .notification: .gateway, .bank: .bank, .merchant: .merchant,
            ]
            for (actor, host) in hostOf {
                o.placements[actor] = ServicePlacement(address: network.address(of: host), namespace: network.namespace(of: host))
            }
            // The hosts' names too: a client that connects by name offers its TLS session again.
            o.certificateNames += Topology.Host.allCases.map(\.rawValue)
            o.callerNamespaces = [
                "customer": network.namespace(of: .customer), "merchant": network.namespace(of: .merchant),
                "gateway": network.namespace(of: .gateway), "notification": network.namespace(of: .gateway),
                "bank": network.namespace(of: .bank),
            ]
        }
        let keyLog = options.keyLog
        let showsTCPInfo = options.network != nil
        o.makeClient = { caller, configuration in
            var configuration = configuration
            if let keyLog, let tls = configuration.tls {
                var tlsConfiguration = tls.configuration
                tlsConfiguration.keyLog = keyLog
                configuration.tls = (try? TLSContext(tlsConfiguration)) ?? tls
            }
            return HTTPClient(
                configuration: configuration,
                connector: WireObserver(recorder: recorder, caller: caller, showsTCPInfo: showsTCPInfo).connector)
        }
        return o
    }

    mutating func start(ports: [PaymentActor: UInt16] = [:]) async throws -> PaymentSystem {
        var options = systemOptions()
        options.ports = ports
        let system = try await PaymentSystem.start(options)
        for (actor, url) in system.services { recorder.name(actor.rawValue, at: url) }
        recorder.markSensitive(PaymentSystemOptions.defaultServerKey)
        recorder.markSensitive("Basic " + Data((PaymentSystemOptions.defaultServerKey + ":").utf8).base64EncodedString())
        self.system = system
        return system
    }

    func stop() async {
        webhooks.open()
        await system?.shutdown()
    }

    @discardableResult
    func note(_ title: String, _ details: [String] = [], outcome: String? = nil) -> DemoStep {
        recorder.add(DemoStep(layer: .note, kind: .note, from: "demo", title: title, details: details, outcome: outcome))
    }

    func card(_ number: String) -> Customer.Card {
        recorder.markSensitive(number)
        return Customer.Card(number: number)
    }

    /// The story's last word, once it has come to rest: every request sent answered, and every
    /// notification delivered or given up — otherwise a webhook still on its way (a second one
    /// for the same order, say) would be cut off mid-exchange. A notification about an order the
    /// shop never placed (the interceptor's charge) is refused and retried on the gateway's
    /// schedule for minutes; the story waits for its first answer only. Then the recorder is
    /// sealed: the retries and whatever the shutdown cuts off are not part of the story.
    func conclude(_ title: String, _ details: [String] = [], outcome: String) async {
        let store = system?.store, shop = system?.shop, merchantID = system?.options.merchantID ?? ""
        let last = DemoStep(layer: .note, kind: .note, from: "demo", title: title, details: details, outcome: outcome)
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline && !Task.isCancelled {
            let outstanding = ((try? store?.notifications(merchantID: merchantID, orderID: nil)) ?? []).filter {
                $0.deliveredAt == nil && $0.gaveUpAt == nil && (shop?.order($0.orderID) != nil || $0.attempts == 0)
            }
            // At rest: every request answered and no message on its way, checked and sealed at
            // once (a retry starting between a check and the end would be cut off mid-exchange).
            if outstanding.isEmpty, recorder.conclude(with: last, if: { steps in
                steps.filter { $0.kind == .httpRequest }.count == steps.filter { $0.kind == .httpResponse }.count
            }) { return }
            try? await Task.sleep(for: .milliseconds(10))
        }
        // Never at rest within the limit (a story gone wrong): end it anyway, as it stands.
        note(title, details, outcome: outcome)
        recorder.seal()
    }

    /// Waits for the step `what` describes; throws a readable failure if it never comes.
    func expect(_ what: String, limit: Duration = .seconds(15), _ condition: @escaping @Sendable ([DemoStep]) -> Bool) async throws {
        guard await recorder.wait(for: limit, until: condition) else { throw Failure(description: "expected \(what), which did not happen") }
    }

    /// Waits until the merchant has checked (and answered) the webhook for `order` that says
    /// `status` — applied, or a duplicate when the shop already knew. (Matched on what the
    /// notification says, not on what `GET status` confirmed: a late `pending` notification is
    /// confirmed as `capture` when the payment went on meanwhile, and is not the capture webhook.)
    func webhookHandled(_ order: String, _ status: String) async throws {
        try await expect("the merchant to check the \(status) webhook for \(order)") { steps in
            guard let check = steps.lastIndex(where: { step in
                guard case .webhookChecked(order, status, _, _, let outcome)? = step.event else { return false }
                return !outcome.hasPrefix("rejected")
            }) else { return false }
            return steps[check...].contains { $0.kind == .httpResponse && $0.from == "merchant" && $0.to == "notification" }
        }
    }

    /// The webhook saying `status` about `order` goes now (it waited at the gateway), and the
    /// story goes on once the merchant has checked and answered it.
    func webhook(_ order: String, _ status: String) async throws {
        webhooks.release(order: order, status: status)
        try await webhookHandled(order, status)
    }

    /// The stories that give each webhook its place: the same steps, numbered the same, on
    /// every run (docs/WALKTHROUGH.md quotes card-accept's numbers).
    static let orderedStories: Set<DemoScenario> = [.cardAccept, .cardDeny, .vaTransfer, .smuggling]

    func orderStatus(_ id: String) -> OrderStatus? { system?.shop?.order(id)?.status }

    // The running system's parts: a readable failure, never a crash, when one is missing.

    func running() throws -> PaymentSystem {
        guard let system else { throw Failure(description: "the payment system is not running") }
        return system
    }

    func shop() throws -> MerchantShop {
        guard let shop = try running().shop else { throw Failure(description: "the merchant's shop is not running") }
        return shop
    }

    func bank() throws -> Bank {
        guard let bank = try running().bank else { throw Failure(description: "the bank is not running") }
        return bank
    }

    func store() throws -> any GatewayStore {
        guard let store = try running().store else { throw Failure(description: "the gateway's store is not open") }
        return store
    }

    func url(_ actor: PaymentActor) throws -> String {
        guard let url = try running().urls[actor] else { throw Failure(description: "no \(actor.rawValue) in this system") }
        return url
    }

    func require(_ condition: Bool, _ message: String) throws {
        if !condition { throw Failure(description: message) }
    }

    // MARK: The stories

    mutating func play() async throws -> DemoResult {
        if options.scenario.needsNetwork { _ = try labNetwork() }
        let system = try await start()
        let where_ = plaintext ? "plain HTTP (no TLS: --plaintext)" : "HTTPS with certificates from a fresh lab CA"
        let placement = options.network.map { network in
            "Every actor runs in this process, each on its own host of the lab network (customer \(network.address(of: .customer)); NetLab's router between them), over \(where_):"
        } ?? "Every actor runs in this process on loopback, over \(where_):"
        note("NetLab demo — \(options.scenario.rawValue): \(options.scenario.summary)", [
            placement,
        ] + system.services.map { "  \($0.actor.rawValue.padding(toLength: 13, withPad: " ", startingAt: 0)) \($0.url)" })
        let customer = system.customer()
        if Self.orderedStories.contains(options.scenario) { webhooks.close() }
        switch options.scenario {
        case .cardAccept: return try await cardAccept(customer)
        case .cardDeny: return try await cardDeny(customer)
        case .fraudChallenge: return try await fraudChallenge(customer)
        case .vaTransfer: return try await vaTransfer(customer)
        case .expire: return try await expire(customer)
        case .refund: return try await refund(customer)
        case .merchantDown: return try await merchantDown(customer)
        case .forgedWebhook: return try await forgedWebhook(customer)
        case .mitm: return try await mitm(customer)
        case .gatewayRestart: return try await gatewayRestart(customer)
        case .cstore: return try await cstore(customer)
        case .qris: return try await qris(customer)
        case .savedCard: return try await savedCard(customer)
        case .gopayLinked: return try await gopayLinked(customer)
        case .subscription: return try await subscription(customer)
        case .smuggling: return try await smuggling(customer)
        case .lossyCheckout: return try await lossyCheckout(customer)
        case .slowBank: return try await slowBank(customer)
        case .partition: return try await partition(customer)
        case .handshakeRTT: return try await handshakeRTT(customer)
        }
    }
}
