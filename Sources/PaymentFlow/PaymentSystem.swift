import Foundation
import HTTPParser
import NetLab
import TCPSocket
import TLSWrapper

/// The payment system assembled: some or all of the actors as HTTP(S) services on loopback,
/// wired to each other by URL. `netlab serve`, the demo and the end-to-end tests all start it.
public final class PaymentSystem: Sendable {
    /// The largest request body any payment service reads: 1 MiB. Their requests are JSON
    /// and forms of a few kilobytes (a charge with 100 items is under 20 KB); anything larger is
    /// answered 413 from its Content-Length, before a byte of it is read (or, chunked, as soon
    /// as it passes the limit), so a flood of 10 MB bodies costs no memory.
    public static let maxRequestBodySize = 1024 * 1024

    /// How each service's HTTP server is set up: the gateway answers errors in Midtrans'
    /// shapes, and every service takes bodies up to ``maxRequestBodySize``.
    public static func serverConfiguration(for actor: PaymentActor) -> HTTPServerConfiguration {
        var configuration = actor == .gateway ? Gateway.serverConfiguration : HTTPServerConfiguration()
        configuration.limits.maxBodySize = maxRequestBodySize
        return configuration
    }

    public let options: PaymentSystemOptions
    /// `(actor, base URL)` for each service started here, in start order.
    public let services: [(actor: PaymentActor, url: String)]
    public let urls: [PaymentActor: String]
    public let store: (any GatewayStore)?
    public let gateway: Gateway?
    public let bank: Bank?
    public let fraud: FraudService?
    public let notifications: NotificationService?
    public let shop: MerchantShop?
    /// The lab CA's certificate: what clients trust (nil with `plaintext`).
    public let caCertificatePath: String?
    /// A client that trusts the lab CA (for customers, tests and the demo).
    public let client: HTTPClient
    private let servers: [PaymentActor: HTTPServer]
    private let background: [Task<Void, Never>]
    private let clients: [HTTPClient]
    /// Threads for the work that touches SQLite (handlers, timers, the outbox).
    private let storeThreads: EventLoopGroup
    private let cleanups: [@Sendable () -> Void]

    private init(options: PaymentSystemOptions, services: [(PaymentActor, String)], store: (any GatewayStore)?, gateway: Gateway?, bank: Bank?,
                 fraud: FraudService?, notifications: NotificationService?, shop: MerchantShop?, caCertificatePath: String?,
                 client: HTTPClient, servers: [PaymentActor: HTTPServer], background: [Task<Void, Never>], clients: [HTTPClient],
                 storeThreads: EventLoopGroup, cleanups: [@Sendable () -> Void]) {
        self.cleanups = cleanups
        self.clients = clients
        self.storeThreads = storeThreads
        self.options = options
        self.services = services.map { (actor: $0.0, url: $0.1) }
        self.urls = Dictionary(uniqueKeysWithValues: services)
        self.store = store
        self.gateway = gateway
        self.bank = bank
        self.fraud = fraud
        self.notifications = notifications
        self.shop = shop
        self.caCertificatePath = caCertificatePath
        self.client = client
        self.servers = servers
        self.background = background
    }

    /// Starts `actors` (all by default). Without a port base every actor must run here, since
    /// the others could not find it.
    /// This machine's addresses (every interface; IPv6 link-local ones left out: they need a
    /// zone to be used).
    static func interfaceAddresses() -> [String] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return [] }
        defer { freeifaddrs(list) }
        var addresses: [String] = []
        for entry in sequence(first: first, next: { $0.pointee.ifa_next }) {
            guard let address = entry.pointee.ifa_addr else { continue }
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            switch Int32(address.pointee.sa_family) {
            case AF_INET:
                var ipv4 = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                guard inet_ntop(AF_INET, &ipv4, &text, socklen_t(text.count)) != nil else { continue }
            case AF_INET6:
                var ipv6 = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                guard inet_ntop(AF_INET6, &ipv6, &text, socklen_t(text.count)) != nil else { continue }
            default: continue
            }
            let written = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if written.lowercased().hasPrefix("fe80:") { continue }
            addresses.append(written)
        }
        return Array(Set(addresses)).sorted()
    }

    /// A host as a URL writes it: an IPv6 address in brackets.
    static func urlHost(_ host: String) -> String { host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host }

    public static func start(_ given: PaymentSystemOptions, actors: Set<PaymentActor> = Set(PaymentActor.allCases)) async throws -> PaymentSystem {
        precondition(given.portBase != nil || actors.count == PaymentActor.allCases.count,
                     "starting only some actors needs a port base, so they can find each other")
        try FileManager.default.createDirectory(atPath: given.stateDirectory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let options = try Self.withLabKeys(given)
        // TLS: one lab CA, one certificate for every service (named localhost, 127.0.0.1, ::1 and
        // the names the class reaches it by; re-issued when one is new).
        var serverTLS: TLSContext?
        var clientConfiguration = HTTPClientConfiguration()
        var caPath: String?
        if !options.plaintext {
            let ca = try LabCertificateAuthority(directory: options.stateDirectory + "/ca")
            // Listening everywhere: every address of this machine too, so a student may use any.
            let names = ["localhost", "127.0.0.1", "::1", options.advertisedHost] + options.certificateNames
                + (options.listensEverywhere ? Self.interfaceAddresses() : [options.host])
                + options.placements.values.map(\.address)
            let leaf = try ca.issue(name: "services", extraNames: names)
            serverTLS = try TLSContext(.server(certificateChainFile: leaf.certificatePath, privateKeyFile: leaf.privateKeyPath))
            clientConfiguration.tls = try TLSContext(.client(trustRootsFile: ca.certificatePath))
            caPath = ca.certificatePath
        }
        clientConfiguration.requestTimeout = .seconds(20)
        // Services call each other all the time: keep enough connections (and their TLS
        // sessions) open for a busy class instead of handshaking again after each burst.
        clientConfiguration.maxIdleConnectionsPerHost = 64
        clientConfiguration.parser = options.httpParser
        let shared = HTTPClient(configuration: clientConfiguration)
        let configuration = clientConfiguration
        var made: [HTTPClient] = [shared]
        func clientFor(_ caller: String) -> HTTPClient {
            var configuration = configuration
            configuration.namespace = options.callerNamespaces[caller]
            let isService = caller == "gateway" || caller == "bank"
            if isService, let timeout = options.serviceCallTimeout {
                configuration.requestTimeout = timeout
                configuration.connectTimeout = min(configuration.connectTimeout, timeout)
            }
            guard let make = options.makeClient else {
                guard configuration.namespace != nil || (isService && options.serviceCallTimeout != nil) else { return shared }
                let client = HTTPClient(configuration: configuration)
                made.append(client)
                return client
            }
            let client = make(caller, configuration)
            made.append(client)
            return client
        }
        let client = clientFor("customer")
        let scheme = options.plaintext ? "http" : "https"

        // Listen first (ports known), then build the actors that need each other's URLs. If
        // anything fails on the way, what was started is stopped again before the error.
        var servers: [PaymentActor: HTTPServer] = [:]
        // Threads for blocking store work: a disk wait holds one of them, not the pool (a
        // database across a socket waits more often: more of them).
        let storeThreads = try EventLoopGroup(loopCount: options.storeURL == nil ? 2 : 8, name: "netlab-store")
        // What to undo when the system stops (or fails to start): an instance's session.
        var cleanups: [@Sendable () -> Void] = []
        do {
        var urls: [PaymentActor: String] = [:]
        var order: [(PaymentActor, String)] = []
        let routers = Routers()
        for actor in PaymentActor.allCases where actors.contains(actor) {
            var configuration = Self.serverConfiguration(for: actor)
            configuration.parser = options.httpParser
            // The gateway, the outbox, the shop and the bank touch SQLite in their handlers: they
            // run on the store's threads, never on the cooperative pool.
            configuration.handlersMayBlock = [.gateway, .notification, .merchant, .bank].contains(actor)
            configuration.blockingExecutor = storeThreads
            if let log = options.accessLog {
                let name = actor.rawValue
                configuration.accessLog = { @Sendable line in log("\(name): \(line)") }
            }
            let server = HTTPServer(configuration: configuration, router: routers.router(for: actor))
            let port = options.ports[actor] ?? options.portBase.map { $0 + actor.portOffset } ?? 0
            let placement = options.placements[actor]
            let address = try await server.start(host: placement?.address ?? options.host, port: port, tls: serverTLS, in: placement?.namespace)
            servers[actor] = server
            let advertisedPort = actor == .gateway ? options.gatewayPublicPort ?? address.port : address.port
            let advertised = "\(scheme)://\(Self.urlHost(placement?.address ?? options.advertisedHost)):\(advertisedPort)"
            urls[actor] = advertised
            order.append((actor, advertised))
        }
        // How the services reach each other (loopback when listening everywhere), and the URLs
        // they give to browsers and students.
        func url(_ actor: PaymentActor) -> String {
            // The gateway behind a balancer: the others call the balancer.
            if actor == .gateway, let port = options.gatewayPublicPort {
                return "\(scheme)://\(Self.urlHost(options.placements[actor]?.address ?? options.internalHost)):\(port)"
            }
            let port = urls[actor].flatMap { $0.split(separator: ":").last.map(String.init) } ?? String((options.portBase ?? 0) + actor.portOffset)
            return "\(scheme)://\(Self.urlHost(options.placements[actor]?.address ?? options.internalHost)):\(port)"
        }
        func publicURL(_ actor: PaymentActor) -> String {
            urls[actor] ?? "\(scheme)://\(Self.urlHost(options.advertisedHost)):\((options.portBase ?? 0) + actor.portOffset)"
        }

        let noticeKey = try Self.secret(at: options.stateDirectory + "/bank-notice.key")
        var stores: GatewayStores?
        if actors.contains(.gateway) || actors.contains(.notification) {
            let opened = try GatewayStores.open(options, asGatewayInstance: actors.contains(.gateway))
            cleanups.append(opened.close)
            // The lab merchant exists (keys from the options; its webhook goes to the shop).
            let existing = try opened.store.merchants().first { $0.merchantID == options.merchantID }
            var merchant = MerchantAccount(merchantID: options.merchantID, serverKey: options.serverKey, clientKey: options.clientKey,
                                           notificationURL: url(.merchant) + "/notifications", finishURL: publicURL(.merchant) + "/",
                                           allowsPrivateWebhooks: true)
            if let existing, existing.notificationURL != nil, options.portBase != nil { merchant.notificationURL = existing.notificationURL }
            try opened.store.saveMerchant(merchant)
            stores = opened
        }
        let store = stores?.store
        var background: [Task<Void, Never>] = []
        var gateway: Gateway?, bank: Bank?, fraud: FraudService?, notifications: NotificationService?, shop: MerchantShop?
        if actors.contains(.bank) {
            bank = try Bank(ledgerPath: options.stateDirectory + "/bank.sqlite",
                            onPayment: Bank.notice(gatewayURL: url(.gateway), key: noticeKey, client: clientFor("bank")), observer: options.observer,
                            gatewayKey: noticeKey)
            routers.set(.bank, bank!.router)
        }
        if actors.contains(.fraud) {
            fraud = FraudService(rules: options.fraudRules, observer: options.observer)
            routers.set(.fraud, fraud!.router)
        }
        if actors.contains(.gateway), let stores {
            var configuration = GatewayConfiguration(bankURL: url(.bank), publicURL: publicURL(.gateway), bankNoticeKey: noticeKey, fraudURL: url(.fraud))
            configuration.publicBankURL = publicURL(.bank)
            // The class view's password: made once, kept 0600 in the state folder for the instructor
            // to read. Never over plain HTTP beyond this machine: the password would cross the
            // very network the class taps in the Wireshark lab.
            if !options.plaintext || options.listensOnLoopbackOnly {
                configuration.instructorKey = try Self.secret(at: options.stateDirectory + "/instructor.key")
            }
            configuration.now = options.now
            configuration.paymentExpiry = options.paymentExpiry
            configuration.settlementDelay = options.settlementDelay
            configuration.subscriptionClockScale = options.subscriptionClockScale
            configuration.vaultKey = try Self.sealingKey(at: options.stateDirectory + "/vault.key")
            // An OTP never typed expires too (at most as late as any waiting payment).
            configuration.authenticationExpiry = min(configuration.authenticationExpiry, options.paymentExpiry)
            let g = Gateway(configuration: configuration, store: stores.store, accounts: stores.accounts, bankClient: clientFor("gateway"),
                            ephemeral: stores.ephemeral, coordinator: stores.coordinator)
            gateway = g
            routers.set(.gateway, g.router)
            let interval = options.pollInterval
            background.append(Task(executorPreference: storeThreads) { await g.runTimers(every: interval) })
        }
        if actors.contains(.notification), let store {
            let n = NotificationService(store: store, client: clientFor("notification"), policy: options.retryPolicy,
                                        timeout: options.notificationTimeout, now: options.now, executor: storeThreads,
                                        gate: options.webhookGate)
            notifications = n
            routers.set(.notification, n.router)
            let interval = options.pollInterval
            background.append(Task(executorPreference: storeThreads) { await n.run(every: interval) })
        }
        if actors.contains(.merchant) {
            shop = try MerchantShop(merchantID: options.merchantID, serverKey: options.serverKey, gatewayURL: url(.gateway),
                                    client: clientFor("merchant"), ordersPath: options.stateDirectory + "/merchant.sqlite",
                                    observer: options.observer, clientKey: options.clientKey, publicURL: publicURL(.merchant),
                                    publicGatewayURL: publicURL(.gateway))
            routers.set(.merchant, shop!.router)
        }
        return PaymentSystem(
            options: options, services: order, store: store, gateway: gateway, bank: bank, fraud: fraud, notifications: notifications,
            shop: shop, caCertificatePath: caPath, client: client, servers: servers,
            background: background, clients: made, storeThreads: storeThreads, cleanups: cleanups)
        } catch {
            for server in servers.values { await server.shutdown(gracePeriod: .zero) }
            for client in made { await client.shutdown() }
            for cleanup in cleanups { cleanup() }
            storeThreads.shutdown()
            throw error
        }
    }

    /// A customer of the lab shop, with a client that trusts the lab CA.
    public func customer() -> Customer {
        Customer(shopURL: urls[.merchant] ?? "", gatewayURL: urls[.gateway] ?? "", bankURL: urls[.bank] ?? "",
                 clientKey: options.clientKey, client: client)
    }

    /// Stops one actor's server (the others keep running), as when a service crashes.
    public func stop(_ actor: PaymentActor) async {
        await servers[actor]?.shutdown(gracePeriod: .zero)
    }

    /// Stops the background work and every server (gracefully: requests in flight finish).
    public func shutdown() async {
        // Wait for the timers and the outbox loop to stop: a restarted system on the same state
        // must never run alongside a pass of this one.
        for task in background { task.cancel() }
        for task in background { await task.value }
        // The front first, then what it calls: the shop (a checkout in flight still reaches the
        // gateway), then the gateway (a charge in flight still reaches the bank and the fraud
        // service instead of finding them closed and being reversed), then the rest. Within a
        // tier, all at once: each may spend its grace period on requests in flight.
        let tiers: [Set<PaymentActor>] = [[.merchant], [.gateway], [.bank, .fraud, .notification]]
        for tier in tiers.map({ tier in servers.filter { tier.contains($0.key) } }) {
            await withTaskGroup(of: Void.self) { group in
                for server in tier.values { group.addTask { await server.shutdown(gracePeriod: .seconds(2)) } }
            }
        }
        await notifications?.shutdown()
        for client in clients { await client.shutdown() }
        for cleanup in cleanups { cleanup() }
        storeThreads.shutdown()
    }

    /// The lab merchant's keys: the ones given, or — when none were (the options hold the
    /// public defaults) — the ones the state folder already has. A gateway started with
    /// `--server-key SECRET` keeps that key when another service starts on the same state
    /// without the option; the public default never quietly comes back.
    static func withLabKeys(_ options: PaymentSystemOptions) throws -> PaymentSystemOptions {
        guard options.serverKey == PaymentSystemOptions.defaultServerKey, options.clientKey == PaymentSystemOptions.defaultClientKey else {
            return options
        }
        let stored = try GatewayStores.merchant(options.merchantID, of: options)
        guard let stored else { return options }
        var kept = options
        (kept.serverKey, kept.clientKey) = (stored.serverKey, stored.clientKey)
        return kept
    }

    /// The vault's key: 32 random bytes, hex in a 0600 file (created on first use). A file
    /// that is not exactly that is refused — a damaged key would silently make every saved
    /// card unusable.
    static func sealingKey(at path: String) throws -> SealingKey {
        let hex = Array(try secret(at: path).utf8)
        let bytes = stride(from: 0, to: hex.count - 1, by: 2).compactMap { UInt8(String(decoding: hex[$0...$0 + 1], as: UTF8.self), radix: 16) }
        guard hex.count == 64, bytes.count == 32, let key = SealingKey(bytes: bytes) else {
            throw StateFileError.malformed(path: path, expected: "64 hexadecimal digits")
        }
        return key
    }

    /// A state file that cannot be used as it is.
    public enum StateFileError: Error, CustomStringConvertible {
        case malformed(path: String, expected: String)
        case readableByOthers(path: String)

        public var description: String {
            switch self {
            case .malformed(let path, let expected): "\(path) is damaged: it should hold \(expected)"
            case .readableByOthers(let path): "\(path) holds a secret but others may read it: chmod 600 it"
            }
        }
    }

    /// A random secret kept in a 0600 file (created on first use), shared by processes on one state.
    static func secret(at path: String) throws -> String {
        if let text = try? String(contentsOfFile: path, encoding: .utf8), !text.isEmpty {
            let mode = (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? 0
            guard mode & 0o077 == 0 else { throw StateFileError.readableByOthers(path: path) }
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        var generator = SystemRandomNumberGenerator()
        let secret = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        // Created 0600 and exclusively: never readable by others, not even for a moment, and
        // never over a file another process made meanwhile (that one's secret is read instead).
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            if errno == EEXIST, let text = try? String(contentsOfFile: path, encoding: .utf8), !text.isEmpty {
                return text.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            throw CocoaError(.fileWriteNoPermission)
        }
        defer { close(descriptor) }
        let bytes = Array(secret.utf8)
        guard write(descriptor, bytes, bytes.count) == bytes.count else { throw CocoaError(.fileWriteUnknown) }
        return secret
    }
}

/// Routers filled in after the servers listen (a router needs the URLs of the others). A
/// request arriving before its actor is set gets 503.
final class Routers: Sendable {
    private let table = Locked<[PaymentActor: Router]>([:])

    func set(_ actor: PaymentActor, _ router: Router) { table.withLock { $0[actor] = router } }

    func router(for actor: PaymentActor) -> Router {
        var router = Router()
        router.fallback = { [self] request in
            guard let real = table.withLock({ $0[actor] }) else {
                throw HTTPError(status: 503, message: "\(actor.rawValue) is starting")
            }
            return try await real.handle(request)
        }
        return router
    }
}
