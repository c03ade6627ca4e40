import Foundation

/// What the gateway keeps, opened for one process of the payment system: the store, the
/// account store, the short-lived records (card tokens, Snap sessions) and the other instances'
/// coordination — from the state folder's SQLite file (one instance, the default), or from the
/// PostgreSQL database of ``PaymentSystemOptions/storeURL`` shared by several (docs/SCALING.md).
struct GatewayStores: Sendable {
    let store: any GatewayStore
    let accounts: any AccountStore
    let ephemeral: any EphemeralStore
    let coordinator: any InstanceCoordinator
    /// Gives the instance up (its locks go at once: another takes the timers' turn).
    let close: @Sendable () -> Void

    /// Opens them; `asGatewayInstance`: this process runs the gateway (it registers as an
    /// instance among the others). The store reports to the options' observer, if any.
    static func open(_ options: PaymentSystemOptions, asGatewayInstance: Bool) throws -> GatewayStores {
        let observed = { (store: any GatewayStore) -> any GatewayStore in options.observer.map { ObservedGatewayStore(store, observer: $0) } ?? store }
        guard let url = options.storeURL else {
            let file = try SQLiteGatewayStore(path: options.stateDirectory + "/gateway.sqlite")
            return GatewayStores(store: observed(file), accounts: try SQLiteAccountStore(database: file.database),
                                 ephemeral: MemoryEphemeralStore(), coordinator: SoleInstance(), close: {})
        }
        #if NETLAB_POSTGRES
        // Shared by every instance: the schema is migrated once, by whichever starts first.
        let database = try PostgresDatabase(url: url, poolSize: 16)
        try PostgresGatewayStore.migrate(database)
        let instance = asGatewayInstance ? try PostgresInstance(url: url) : nil
        return GatewayStores(store: observed(try PostgresGatewayStore(database: database, instance: instance)),
                             accounts: try PostgresAccountStore(database: database), ephemeral: PostgresEphemeralStore(database: database),
                             coordinator: instance ?? SoleInstance(), close: { instance?.stop() })
        #else
        throw PostgresError.notBuilt(url: url)
        #endif
    }

    /// The merchant `id` as the options' store has it, if the store exists yet (nothing is
    /// created to find out).
    static func merchant(_ id: String, of options: PaymentSystemOptions) throws -> MerchantAccount? {
        if let url = options.storeURL {
            #if NETLAB_POSTGRES
            let database = try PostgresDatabase(url: url, poolSize: 1)
            try PostgresGatewayStore.migrate(database)
            return try PostgresGatewayStore(database: database).merchants().first { $0.merchantID == id }
            #else
            throw PostgresError.notBuilt(url: url)
            #endif
        }
        let path = options.stateDirectory + "/gateway.sqlite"
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try SQLiteGatewayStore(path: path).merchants().first { $0.merchantID == id }
    }
}
