import Foundation
import Testing

@testable import PaymentFlow

/// The store engines the contract tests run on.
enum StoreEngine: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, postgres

    var testDescription: String { rawValue }

    /// SQLite always; PostgreSQL when this build has it and a cluster is there (see ``TestPostgres``).
    static var available: [StoreEngine] {
        #if NETLAB_POSTGRES
        TestPostgres.serverURL == nil ? [.sqlite] : [.sqlite, .postgres]
        #else
        [.sqlite]
        #endif
    }
}

#if NETLAB_POSTGRES
/// A PostgreSQL cluster for the tests: `$NETLAB_POSTGRES_URL` (CI starts a throwaway one with
/// scripts/postgres-cluster.sh), else one this test process starts the same way in a temporary
/// folder and stops when it exits. Each test gets a database of its own. Without PostgreSQL
/// installed the PostgreSQL cases are left out, and say so once; under CI (`CI` set) that is a
/// failure instead.
enum TestPostgres {
    static let serverURL: String? = {
        if let url = ProcessInfo.processInfo.environment["NETLAB_POSTGRES_URL"], !url.isEmpty { return url }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let script = root.appendingPathComponent("scripts/postgres-cluster.sh").path
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-pg-\(UUID().uuidString.prefix(8))").path
        let (status, output) = run([script, "start", folder])
        guard status == 0, let url = output.split(separator: "\n").last.map(String.init), url.hasPrefix("postgres://") else {
            let why = "PostgreSQL is not available (\(output.trimmingCharacters(in: .whitespacesAndNewlines))): its store cases are left out"
            precondition(ProcessInfo.processInfo.environment["CI"] == nil, why)
            print("note: \(why)")
            return nil
        }
        stopAtExit = (script, folder)
        atexit {
            guard let (script, folder) = TestPostgres.stopAtExit else { return }
            _ = TestPostgres.run([script, "stop", folder])
            try? FileManager.default.removeItem(atPath: folder)
        }
        return url
    }()

    nonisolated(unsafe) static var stopAtExit: (String, String)?

    /// A new, empty database on the cluster; its URL.
    static func freshDatabase() throws -> String {
        guard let serverURL else { throw PostgresError(kind: .connection, sqlState: "", message: "no cluster", statement: "") }
        let name = "netlab_test_\(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: ""))"
        let admin = try PostgresConnection(url: serverURL)
        try admin.execute("CREATE DATABASE \(name)")
        return serverURL.replacingOccurrences(of: "/postgres", with: "/\(name)")
    }

    /// Runs a command through the shell and waits (`system`: no run loop, usable from a
    /// static initializer); its output goes to a file, which is read back.
    static func run(_ arguments: [String]) -> (Int32, String) {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-pg-\(UUID().uuidString).out").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        let quoted = arguments.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        let status = system("\(quoted) > '\(output)' 2>&1 < /dev/null")
        return (status, (try? String(contentsOfFile: output, encoding: .utf8)) ?? "")
    }
}
#endif

/// A gateway store and account store of one engine, fresh for one test.
struct TestStores {
    let store: any GatewayStore
    let accounts: any AccountStore
    let ephemeral: any EphemeralStore
    /// PostgreSQL: the database's URL (more instances can open it); nil for SQLite.
    let url: String?
    /// SQLite: the folder holding the file.
    let directory: String?

    static func make(_ engine: StoreEngine, pendingWebhookLimit: Int = SQLiteGatewayStore.defaultPendingWebhookLimit,
                     instance: Bool = false) throws -> TestStores {
        switch engine {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-store-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let store = try SQLiteGatewayStore(path: directory + "/gateway.sqlite", pendingWebhookLimit: pendingWebhookLimit)
            return TestStores(store: store, accounts: try SQLiteAccountStore(database: store.database), ephemeral: MemoryEphemeralStore(),
                              url: nil, directory: directory)
        case .postgres:
            #if NETLAB_POSTGRES
            let url = try TestPostgres.freshDatabase()
            return try open(url: url, pendingWebhookLimit: pendingWebhookLimit, instance: instance)
            #else
            throw PostgresError.notBuilt(url: "")
            #endif
        }
    }

    #if NETLAB_POSTGRES
    /// Another instance's view of the same PostgreSQL database.
    static func open(url: String, pendingWebhookLimit: Int = SQLiteGatewayStore.defaultPendingWebhookLimit, instance: Bool = false) throws -> TestStores {
        let database = try PostgresDatabase(url: url, poolSize: 4)
        try PostgresGatewayStore.migrate(database)
        let store = try PostgresGatewayStore(database: database, instance: instance ? try PostgresInstance(url: url) : nil,
                                             pendingWebhookLimit: pendingWebhookLimit)
        return TestStores(store: store, accounts: try PostgresAccountStore(database: database), ephemeral: PostgresEphemeralStore(database: database),
                          url: url, directory: nil)
    }
    #endif

    /// A second view of the same data: PostgreSQL, another instance on the database; SQLite,
    /// the file opened again (a gateway after a restart: one gateway serves a file).
    func another(instance: Bool = false) throws -> TestStores {
        if let directory {
            let store = try SQLiteGatewayStore(path: directory + "/gateway.sqlite")
            return TestStores(store: store, accounts: try SQLiteAccountStore(database: store.database), ephemeral: MemoryEphemeralStore(),
                              url: nil, directory: nil)
        }
        #if NETLAB_POSTGRES
        return try Self.open(url: url!, instance: instance)
        #else
        throw PostgresError.notBuilt(url: "")
        #endif
    }

    func remove() {
        #if NETLAB_POSTGRES
        (store as? PostgresGatewayStore)?.instance?.stop()
        #endif
        if let directory { try? FileManager.default.removeItem(atPath: directory) }
    }
}
