import Foundation
import HTTPParser
import NetLab
import TCPSocket

/// How to run the payment system (everything has a lab default).
public struct PaymentSystemOptions: Sendable {
    /// Holds the lab CA and certificates (`ca/`), the gateway's and the shop's SQLite files and the
    /// bank's notice key.
    public var stateDirectory: String
    /// Serve plain HTTP instead of HTTPS (for lab use: a wiretap reads everything).
    public var plaintext = false
    /// Fixed ports from here (see ``PaymentActor/portOffset``); nil: the kernel picks free ones
    /// (only possible when every service runs in this process).
    public var portBase: UInt16?
    /// Ports for particular actors (over `portBase`): how a restart comes back on the ports the
    /// others already know (the demo's gateway-restart keeps the ports of the first run).
    public var ports: [PaymentActor: UInt16] = [:]
    /// The address every service listens on (`--bind`): loopback by default; `0.0.0.0` or `::`
    /// (every address) for a class gateway the students' machines reach.
    public var host = "127.0.0.1"
    /// The name in the URLs the services give out (`--public-host`: pages, redirects, what is
    /// printed): the listening address by default, or this machine's name when that is a
    /// wildcard. The services call each other on loopback whatever it is.
    public var publicHost: String?
    /// More names for the services' certificate (`--san`), besides localhost, 127.0.0.1, ::1,
    /// the listening address and the public host.
    public var certificateNames: [String] = []
    /// Services on hosts of their own (the lab network): each listens on its placement's
    /// address, in its namespace, and the others call it there. Services without one listen on
    /// `host` as usual.
    public var placements: [PaymentActor: ServicePlacement] = [:]
    /// The namespace each caller's connections leave from, by caller ("customer", "merchant",
    /// "gateway", "notification", "bank"): who calls from which host of the lab network.
    public var callerNamespaces: [String: NetworkNamespace] = [:]
    /// How long the gateway waits for fraud detection and the bank, and the bank for the gateway,
    /// before giving up: nil, the clients' 20 s. The network stories make it shorter than the
    /// delays they put on links (the shop still waits the full time for the gateway's answer).
    public var serviceCallTimeout: Duration?
    /// Where the gateway keeps its state: nil, the SQLite file in ``stateDirectory`` (one
    /// instance); a `postgres://` URL, a PostgreSQL database that several gateway instances
    /// share (docs/SCALING.md).
    public var storeURL: String?
    /// The port the gateway's URLs give out when it is not the one it listens on: an instance
    /// behind a load balancer names the balancer's port (pages, redirects, Snap's
    /// `redirect_url`).
    public var gatewayPublicPort: UInt16?
    /// The demo merchant (added to the gateway's store if missing).
    public var merchantID = "G-NETLAB-01"
    public var serverKey = PaymentSystemOptions.defaultServerKey
    public var clientKey = PaymentSystemOptions.defaultClientKey
    public var retryPolicy = RetryPolicy.midtrans
    /// The fraud service's rules: the sandbox's by default (only the test cards decide); the
    /// amount and velocity rules are lab settings (``FraudRules/lab``).
    public var fraudRules = FraudRules()
    public var paymentExpiry: Duration = .seconds(24 * 3600)
    public var settlementDelay: Duration = .seconds(24 * 3600)
    /// How fast subscriptions' schedules run (1: real time; `--fast`: a day lasts a minute).
    public var subscriptionClockScale: Double = 1
    /// The clock of the gateway and the outbox (expiry, settlement, retry schedules); tests
    /// inject one they move by hand.
    public var now: @Sendable () -> Date = { Date() }
    /// How long one webhook delivery may take (Midtrans: 15 s).
    public var notificationTimeout: Duration = .seconds(15)
    /// How often expiry/settlement timers and the outbox are checked.
    public var pollInterval: Duration = .milliseconds(200)
    public var accessLog: (@Sendable (String) -> Void)?
    /// The HTTP parser every server and client of the system uses; nil: NetLab's. The HTTP
    /// layer's seam: `swift run lab demo --http=student` plugs a student's parser in here.
    public var httpParser: HTTPParserFactory?
    /// Hears the actors' decisions (gateway status changes, orders, webhook checks).
    public var observer: PaymentObserver?
    /// Awaited by the notification service before each webhook delivery (nil: none): the demo
    /// holds each webhook there until its story reaches it.
    public var webhookGate: (@Sendable (OutboxEntry) async -> Void)?
    /// Makes the HTTP client each caller uses ("customer", "merchant", "gateway", "notification",
    /// "bank"), from the configuration the system would use (TLS trust included); nil: one shared
    /// client. The demo passes one that watches every connection.
    public var makeClient: (@Sendable (_ caller: String, _ configuration: HTTPClientConfiguration) -> HTTPClient)?

    /// Sandbox-style keys for the lab (documented, printed at start; never use them for real).
    public static let defaultServerKey = "SB-Mid-server-NetLabLab0000000000"
    public static let defaultClientKey = "SB-Mid-client-NetLabLab0000000000"

    public init(stateDirectory: String) {
        self.stateDirectory = stateDirectory
    }

    /// A store URL fit to print: without its password (`postgres://user:…@host/db` →
    /// `postgres://user@host/db`).
    public static func redacted(storeURL url: String) -> String {
        var text = url
        // `?password=…` (or `&password=…`) in the query.
        if let query = text.firstIndex(of: "?") {
            let parameters = text[text.index(after: query)...].split(separator: "&", omittingEmptySubsequences: false)
                .map { $0.lowercased().hasPrefix("password=") ? "password=…" : String($0) }
            text = String(text[...query]) + parameters.joined(separator: "&")
        }
        // `user:password@` before the host.
        guard let scheme = text.range(of: "://") else { return text }
        let authority = text[scheme.upperBound...].prefix { $0 != "/" && $0 != "?" }
        guard let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") else { return text }
        return String(text[..<colon]) + String(text[at...])
    }

    /// `~/.netlab` (or `$NETLAB_STATE`): where `netlab serve` keeps its state by default.
    public static var defaultStateDirectory: String {
        if let dir = ProcessInfo.processInfo.environment["NETLAB_STATE"], !dir.isEmpty { return dir }
        return FileManager.default.homeDirectoryForCurrentUser.path + "/.netlab"
    }
}

extension PaymentSystemOptions {
    /// Listening on this machine's loopback only.
    var listensOnLoopbackOnly: Bool { host == "localhost" || host == "::1" || host.hasPrefix("127.") }

    /// Listening on every address (`0.0.0.0`, `::`).
    var listensEverywhere: Bool { ["0.0.0.0", "::", "", "*"].contains(host) }

    /// Where the services call each other: the listening address, or loopback when that is
    /// every address.
    var internalHost: String { listensEverywhere ? (host == "::" ? "::1" : "127.0.0.1") : host }

    /// The host in the URLs given out: `publicHost`, else the listening address, else (listening
    /// everywhere) this machine's name.
    var advertisedHost: String {
        if let publicHost, !publicHost.isEmpty { return publicHost }
        return listensEverywhere ? ProcessInfo.processInfo.hostName : host
    }
}
