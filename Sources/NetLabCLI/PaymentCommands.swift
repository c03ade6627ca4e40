import ArgumentParser
import Dispatch
import Foundation
import NetLab
import PaymentFlow
import Synchronization
import TCPSocket

/// The options every `netlab serve ACTOR` shares.
struct PaymentServeOptions: ParsableArguments {
    @Option(help: "Fixed ports: gateway N, bank N+1, merchant N+2, fraud N+3, notification N+4.")
    var portBase: UInt16 = 8443

    @Option(help: "Folder for the lab CA, certificates and the gateway's SQLite file (default ~/.netlab, or $NETLAB_STATE).")
    var state: String?

    @Option(help: "The address every service listens on: 127.0.0.1 (this machine only), or 0.0.0.0 / :: for a class gateway the students' machines reach.")
    var bind = "127.0.0.1"

    @Option(help: "The host name or address in the URLs the services give out (pages, redirects, what is printed); default: the --bind address, or this machine's name when that is 0.0.0.0 or ::.")
    var publicHost: String?

    @Option(name: .customLong("san"), help: "One more name or address for the services' certificate (repeatable), besides the public host and (with --bind 0.0.0.0 or ::) every address of this machine.")
    var san: [String] = []

    @Option(help: "The lab merchant's server key (a sandbox-style default otherwise; printed at start).")
    var serverKey: String = PaymentSystemOptions.defaultServerKey

    @Option(help: "The lab merchant's client key.")
    var clientKey: String = PaymentSystemOptions.defaultClientKey

    @Flag(help: "Serve plain HTTP instead of HTTPS (lab use only: anyone on the path reads card data and keys).")
    var plaintext = false

    @Flag(help: "Compress the clocks for a live demo: retries in seconds, VA expiry 2 min, settlement 30 s, a subscription's day in a minute.")
    var fast = false

    @Option(help: "Seconds a VA, bill, QR or e-wallet payment waits before it expires (Midtrans: 86400; --fast: 120).")
    var paymentExpiry: Int?

    @Option(help: "Seconds after capture a card payment settles (Midtrans: 86400, D+1; --fast: 30).")
    var settlementDelay: Int?

    @Option(help: "Seconds one webhook delivery may take before it counts as failed (Midtrans: 15).")
    var notificationTimeout: Int?

    @Option(help: "Fraud detection's rules: sandbox (only Midtrans' test cards decide; the default) or lab (also the amount and velocity rules).")
    var fraudRules: FraudRuleSet = .sandbox

    @Option(help: "Fraud detection: challenge payments of at least this many rupiah (switches the amount rule on).")
    var challengeAmount: Int64?

    @Option(help: "Fraud detection: deny a card's charge past this many within a minute (card testing; switches the velocity rule on).")
    var velocityLimit: Int?

    @Flag(help: "Print an access-log line per request (queries of /v2/token are redacted).")
    var accessLog = false

    @Option(help: "The gateway's store: a postgres://USER@HOST:PORT/DATABASE URL that several gateway instances share (the gateway and notification services); default: the SQLite file in the state folder. Keep a password out of it (and out of `ps`): PGPASSWORD or ~/.pgpass.")
    var store: String?

    /// Set by `serve gateway --instances N` for each instance it starts: listen here, and give
    /// out the balancer's port (--port-base) in URLs.
    @Option(help: .hidden)
    var instancePort: UInt16?

    /// Run by `serve all`'s supervisor: shut down when standard input ends (the supervisor died).
    @Flag(help: .hidden)
    var supervised = false

    mutating func validate() throws {
        if let store, !(store.hasPrefix("postgres://") || store.hasPrefix("postgresql://")) {
            throw ValidationError("--store is a postgres:// or postgresql:// URL (without it the gateway keeps its SQLite file in the state folder), not \(PaymentSystemOptions.redacted(storeURL: store))")
        }
        // A host only: a scheme, a port or a path would make every URL (and the certificate) wrong.
        if let publicHost, publicHost.isEmpty || publicHost.contains(where: { "/:@?#[] ".contains($0) }) && !Self.isIPv6(publicHost) {
            throw ValidationError("--public-host is a host name or address only (lab-gw, 10.0.0.5), not \(publicHost)")
        }
        for name in san where name.isEmpty || name.contains(where: { "/@?#[] ".contains($0) }) || (name.contains(":") && !Self.isIPv6(name)) {
            throw ValidationError("--san is a DNS name or an IP address, not \(name)")
        }
    }

    static func isIPv6(_ text: String) -> Bool {
        var address = in6_addr()
        return inet_pton(AF_INET6, text, &address) == 1
    }

    func systemOptions() -> PaymentSystemOptions {
        var options = PaymentSystemOptions(stateDirectory: state ?? PaymentSystemOptions.defaultStateDirectory)
        options.portBase = portBase
        options.host = bind
        options.publicHost = publicHost
        options.certificateNames = san
        options.plaintext = plaintext
        options.serverKey = serverKey
        options.clientKey = clientKey
        options.storeURL = store
        if let instancePort {
            options.ports[.gateway] = instancePort
            options.gatewayPublicPort = portBase
        }
        if fast {
            options.retryPolicy = .compressed(by: 1.0 / 60, jitter: true)
            options.paymentExpiry = .seconds(120)
            options.settlementDelay = .seconds(30)
            options.subscriptionClockScale = 1.0 / 1440
        }
        if let paymentExpiry { options.paymentExpiry = .seconds(max(1, paymentExpiry)) }
        if let settlementDelay { options.settlementDelay = .seconds(max(1, settlementDelay)) }
        if fraudRules == .lab { options.fraudRules = .lab }
        if let challengeAmount { options.fraudRules.challengeAmount = Rupiah(max(1, challengeAmount)) }
        if let velocityLimit { options.fraudRules.velocityLimit = max(1, velocityLimit) }
        if let notificationTimeout { options.notificationTimeout = .seconds(max(1, notificationTimeout)) }
        if accessLog { options.accessLog = { say($0) } }
        return options
    }

    /// Starts `actors`, prints `NAME URL` per service, serves until SIGINT/SIGTERM, then shuts
    /// down gracefully (requests in flight finish; state is already on disk).
    func serve(_ actors: Set<PaymentActor>) async throws {
        // Under `serve all` only the supervisor decides: a Ctrl-C at the terminal reaches the
        // whole process group, and each service waits for the supervisor's SIGTERM instead.
        if supervised { TerminationSignals.supervised = true }
        // Every connection is a descriptor: the soft limit's 1024 would be reached by a modest
        // flood long before the servers' own caps (sized from this limit) refuse it.
        OpenFileLimit.raiseToMaximum()
        let options = systemOptions()
        let system = try await PaymentSystem.start(options, actors: actors)
        // The shop first: it is what a newcomer opens in a browser.
        if let shop = system.urls[.merchant] { say("shop \(shop)/ (open this in a browser)") }
        for (actor, url) in system.services { say("\(actor.rawValue) \(url)") }
        if let gateway = system.urls[.gateway], system.gateway?.configuration.instructorKey != nil {
            say("instructor \(gateway)/instructor (the class view: any user name, the password in \(options.stateDirectory)/instructor.key)")
        }
        say("state \(options.stateDirectory)")
        if let ca = system.caCertificatePath { say("trust \(ca)") }
        if actors.contains(.gateway) || actors.contains(.merchant) {
            // The documented lab default is printed so a student can use it; a key of one's own is not.
            let keys = system.options
            let shown = keys.serverKey == PaymentSystemOptions.defaultServerKey
                ? "\(keys.serverKey) (the lab default: never a real one)" : "(as given, or kept from the state folder: not printed)"
            say("merchant \(keys.merchantID) server key \(shown) client key \(keys.clientKey)")
        }
        if supervised { TerminationSignals.reportReady() }
        _ = await TerminationSignals.first()
        if !supervised { say("shutting down… (a second Ctrl-C stops at once)") }
        await system.shutdown()
    }
}

/// SIGINT (Ctrl-C) and SIGTERM for `netlab serve`, handled for the whole process from the first
/// call on: the first signal ends ``first()``'s wait (the graceful shutdown begins); a second one
/// — someone who asks twice does not want to wait for requests in flight — ends the process at
/// once, with exit status 128 + the signal number, as a shell reports a death by that signal.
///
/// Set up once: libdispatch installs its forwarding handler the first time a signal gets a
/// source, and a later `signal(…, SIG_IGN)` would replace it for good.
enum TerminationSignals {
    private final class Count: Sendable {
        let value = Atomic<Int>(0)
    }

    /// A service run by `serve all`'s supervisor (set before the first ``first()``): SIGINT is
    /// ignored (a terminal's Ctrl-C reaches the whole process group; the supervisor passes it
    /// on as SIGTERM), and a repeated SIGTERM changes nothing (the supervisor escalates itself).
    nonisolated(unsafe) static var supervised = false

    nonisolated(unsafe) private static let installed: (stream: AsyncStream<Int32>, sources: [any DispatchSourceSignal]) = {
        let (stream, continuation) = AsyncStream<Int32>.makeStream()
        let count = Count()
        let supervised = Self.supervised
        if supervised { signal(SIGINT, SIG_IGN) }
        let sources = (supervised ? [SIGTERM] : [SIGINT, SIGTERM]).map { number -> any DispatchSourceSignal in
            signal(number, SIG_IGN)  // delivered to the dispatch source instead of killing the process
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                if count.value.add(1, ordering: .relaxed).oldValue == 0 {
                    continuation.yield(number)
                } else if !supervised {
                    say("stopped at once: requests in flight were cut off")
                    exit(128 + number)
                }
            }
            source.resume()
            return source
        }
        return (stream, sources)
    }()

    /// Under a supervisor: says ``ServiceSupervisor/readyLine`` (what the supervisor waits for:
    /// everything before it is said), then follows the lifeline — the supervisor holds the other
    /// end of standard input, and its end (even by SIGKILL) is this process's too, gracefully, as
    /// if it had sent SIGTERM.
    static func reportReady() {
        say(ServiceSupervisor.readyLine)
        Thread {
            var byte: UInt8 = 0
            while read(STDIN_FILENO, &byte, 1) > 0 {}
            kill(getpid(), SIGTERM)
        }.start()
    }

    /// Suspends until the first SIGINT or SIGTERM; returns its number.
    static func first() async -> Int32 {
        for await number in installed.stream { return number }
        return SIGTERM
    }
}

extension Serve {
    struct All: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the whole payment system: gateway, bank, merchant, fraud and notification services.",
            discussion: """
                Each service runs in a process of its own (`netlab serve ACTOR`), restarted if it dies: \
                one failing never takes the others down. `--single-process` runs them all in this \
                process instead (one failure domain; easier to debug). With --instances N (and \
                --store postgres://…) the gateway is N instances behind nginx, as \
                `netlab serve gateway --instances N` runs them (docs/SCALING.md).
                """)
        @OptionGroup var options: PaymentServeOptions

        @Flag(help: "Run every service in this one process instead of one process each.")
        var singleProcess = false

        @Option(help: "Run the gateway as this many instances behind nginx (needs --store postgres://…).")
        var instances: Int?

        func validate() throws {
            guard let instances else { return }
            guard !singleProcess else { throw ValidationError("--instances runs gateway processes: it does not go with --single-process") }
            try Gateway.validate(instances: instances, store: options.store)
        }

        func run() async throws {
            if singleProcess { return try await options.serve(Set(PaymentActor.allCases)) }
            OpenFileLimit.raiseToMaximum()  // the children inherit it
            let arguments = CommandLine.arguments
            let start = arguments.firstIndex(of: "all").map { $0 + 1 } ?? arguments.endIndex
            try await ServiceSupervisor(arguments: Array(arguments[start...])).run()
        }
    }

    struct Gateway: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the gateway's payment service (Midtrans' Core API and Snap).",
            discussion: """
                With --instances N (and --store postgres://…), N gateway processes share one PostgreSQL \
                database behind nginx: nginx listens on the gateway's port (--port-base), the instances \
                on the ports after --port-base + 10. See docs/SCALING.md.
                """)
        @OptionGroup var options: PaymentServeOptions

        @Option(help: "Run this many gateway instances behind nginx (needs --store postgres://…).")
        var instances: Int?

        func validate() throws {
            guard let instances else { return }
            try Self.validate(instances: instances, store: options.store)
        }

        static func validate(instances: Int, store: String?) throws {
            guard (1...32).contains(instances) else { throw ValidationError("--instances is 1 to 32, not \(instances)") }
            guard store != nil else {
                throw ValidationError("--instances needs --store postgres://…: instances share one database (a SQLite file has one writer at a time)")
            }
        }

        func run() async throws {
            // An instance started by the cluster (it passes --instance-port) serves; the cluster supervises.
            guard let instances, options.instancePort == nil else { return try await options.serve([.gateway]) }
            // The cluster itself may be `serve all`'s gateway service.
            if options.supervised { TerminationSignals.supervised = true }
            OpenFileLimit.raiseToMaximum()
            let arguments = CommandLine.arguments
            let start = arguments.firstIndex(of: "gateway").map { $0 + 1 } ?? arguments.endIndex
            try await GatewayCluster(options: options, instances: instances, arguments: Array(arguments[start...])).run()
        }
    }

    struct Bank: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run the bank simulator (cards, 3-D Secure, virtual accounts, e-wallets).")
        @OptionGroup var options: PaymentServeOptions
        func run() async throws { try await options.serve([.bank]) }
    }

    struct Merchant: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run the merchant's shop (orders and the webhook endpoint).")
        @OptionGroup var options: PaymentServeOptions
        func run() async throws { try await options.serve([.merchant]) }
    }

    struct Fraud: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run the gateway's fraud-detection service.")
        @OptionGroup var options: PaymentServeOptions
        func run() async throws { try await options.serve([.fraud]) }
    }

    struct Notification: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run the gateway's notification service (delivers the webhook outbox).")
        @OptionGroup var options: PaymentServeOptions
        func run() async throws { try await options.serve([.notification]) }
    }
}

/// `netlab gateway merchant add|list|remove`: the gateway's merchants, in its store (the state
/// folder's SQLite file, or the PostgreSQL database of `--store`).
struct GatewayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway", abstract: "Manage the gateway.", subcommands: [MerchantCommand.self])

    struct MerchantCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "merchant", abstract: "Add, list or remove the merchants one gateway serves.",
            subcommands: [Add.self, List.self, Remove.self, Import.self, Export.self])
    }

    struct StateOption: ParsableArguments {
        @Option(help: "The state folder of `netlab serve` (default ~/.netlab, or $NETLAB_STATE).")
        var state: String?

        @Option(name: .customLong("store"), help: "The gateway's PostgreSQL store (`netlab serve … --store postgres://…`): the instances sharing it hear of a change at once.")
        var storeURL: String?

        func store() throws -> any MerchantStore {
            if let store = storeURL {
                guard store.hasPrefix("postgres://") || store.hasPrefix("postgresql://") else {
                    throw ValidationError("--store is a postgres:// or postgresql:// URL, not \(PaymentSystemOptions.redacted(storeURL: store))")
                }
                #if NETLAB_POSTGRES
                return try PostgresGatewayStore(database: PostgresDatabase(url: store, poolSize: 1))
                #else
                throw PostgresError.notBuilt(url: store)
                #endif
            }
            let directory = state ?? PaymentSystemOptions.defaultStateDirectory
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            return try SQLiteGatewayStore(path: directory + "/gateway.sqlite")
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a merchant (or change one with the same id).")
        @Argument(help: "The merchant id, e.g. G-STUDENT-07.") var merchantID: String
        @Option(help: "Its server key (secret; a random SB-Mid-server-… key if omitted).") var serverKey: String?
        @Option(help: "Its client key (public; a random SB-Mid-client-… key if omitted).") var clientKey: String?
        @Option(help: "Where its webhooks go, e.g. https://127.0.0.1:9445/notifications.") var notificationURL: String?
        @Option(help: "Where Snap's page sends the customer when a transaction names no callbacks.finish (the dashboard's Finish URL).")
        var finishURL: String?
        @Flag(help: "Let its webhooks go to loopback and private addresses (a student's shop on this machine or the lab network).")
        var allowPrivateWebhooks = false
        @OptionGroup var state: StateOption

        func run() throws {
            let merchant: MerchantAccount
            do {
                merchant = try MerchantSheet.Row(merchantID: merchantID, serverKey: serverKey, clientKey: clientKey, notificationURL: notificationURL,
                                                 finishURL: finishURL, allowsPrivateWebhooks: allowPrivateWebhooks).account(keeping: nil)
            } catch {
                throw ValidationError("\(error)")
            }
            do {
                try state.store().saveMerchant(merchant)
            } catch let error as SQLiteError {
                throw ValidationError("could not save \(merchantID): \(error.message) (keys must be unique across merchants)")
            } catch let error as PostgresError where error.sqlState == "23505" {
                throw ValidationError("could not save \(merchantID): \(error.message) (keys must be unique across merchants)")
            }
            print("merchant \(merchant.merchantID)")
            print("server key \(merchant.serverKey)   (secret: only the merchant's server uses it)")
            print("client key \(merchant.clientKey)   (public: browsers use it to tokenise cards)")
            print("notification URL \(merchant.notificationURL ?? "(none: no webhooks)")")
            if let finish = merchant.finishURL { print("finish URL \(finish)") }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List merchants (server keys shown masked).")
        @OptionGroup var state: StateOption

        func run() throws {
            for merchant in try state.store().merchants() {
                let masked = String(merchant.serverKey.prefix(14)) + String(repeating: "•", count: max(0, merchant.serverKey.count - 18))
                    + String(merchant.serverKey.suffix(4))
                print("\(merchant.merchantID)  server \(masked)  client \(merchant.clientKey)  webhook \(merchant.notificationURL ?? "-")")
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a merchant (its transactions stay, unreachable by key).")
        @Argument(help: "The merchant id.") var merchantID: String
        @OptionGroup var state: StateOption

        func run() throws {
            guard try state.store().removeMerchant(id: merchantID) else { throw ValidationError("no merchant \(merchantID)") }
            print("removed \(merchantID)")
        }
    }
}

extension GatewayCommand {
    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add or update the merchants listed in a CSV file (a class list: one merchant per student).",
            discussion: """
                The header names the columns: merchant_id (required), server_key, client_key, notification_url, \
                finish_url, allow_private_webhooks (true/false). A blank key keeps the merchant's key if it exists, \
                or makes a random one. Every row is checked before anything is saved. Then hand the keys out with \
                `netlab gateway merchant export --with-keys --out keys.csv`.
                """)
        @Argument(help: "The CSV file, e.g. students.csv.") var file: String
        @OptionGroup var state: StateOption

        func run() throws {
            let text: String
            do { text = try String(contentsOfFile: file, encoding: .utf8) } catch { throw ValidationError("cannot read \(file): \(error.localizedDescription)") }
            let store = try state.store()
            let existing = try store.merchants()
            // Every row read and checked — keys unique too — before anything is saved.
            let accounts: [MerchantAccount]
            switch Result(catching: { () throws(MerchantSheet.SheetError) -> [MerchantAccount] in try MerchantSheet.accounts(text, existing: existing) }) {
            case .success(let checked): accounts = checked
            case .failure(let problem): throw ValidationError("\(file): \(problem)")
            }
            let known = Set(existing.map(\.merchantID))
            for account in accounts {
                do {
                    try store.saveMerchant(account)
                } catch let error as SQLiteError {
                    throw ValidationError("could not save \(account.merchantID): \(error.message) (keys must be unique across merchants)")
                } catch let error as PostgresError where error.sqlState == "23505" {
                    throw ValidationError("could not save \(account.merchantID): \(error.message) (keys must be unique across merchants)")
                }
            }
            let added = accounts.filter { !known.contains($0.merchantID) }.count
            print("\(accounts.count) merchants from \(file): \(added) added, \(accounts.count - added) updated")
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write every merchant as CSV (the import's columns); --with-keys includes the server keys, for handing out.")
        @Flag(help: "Include each merchant's server key (secret). With --out, the file is created 0600.") var withKeys = false
        @Option(help: "Write to this file instead of standard output.") var out: String?
        @OptionGroup var state: StateOption

        func run() throws {
            let merchants = try state.store().merchants()
            let text = MerchantSheet.csv(merchants, withServerKeys: withKeys)
            guard let out else { return print(text, terminator: "") }
            try Self.writeSecret(text, to: out, mode: withKeys ? 0o600 : 0o644)
            print("\(out): \(merchants.count) merchants" + (withKeys ? " with their server keys (mode 0600: hand each student their own row)" : ""))
        }

        /// Writes `text` to `path` with `mode` from the first byte: into a new file beside it
        /// (never through a link, never into a file someone else made), then renamed over it.
        static func writeSecret(_ text: String, to path: String, mode: mode_t) throws {
            let temporary = path + ".\(getpid()).tmp"
            let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
            guard descriptor >= 0 else { throw ValidationError("cannot write \(temporary): \(String(cString: strerror(errno)))") }
            let bytes = Array(text.utf8)
            let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            let synced = fsync(descriptor) == 0
            close(descriptor)
            guard written == bytes.count, synced, rename(temporary, path) == 0 else {
                let why = String(cString: strerror(errno))
                unlink(temporary)
                throw ValidationError("cannot write \(path): \(why)")
            }
        }
    }
}

/// `--fraud-rules`: which rules fraud detection runs.
enum FraudRuleSet: String, ExpressibleByArgument, CaseIterable {
    case sandbox, lab
}
