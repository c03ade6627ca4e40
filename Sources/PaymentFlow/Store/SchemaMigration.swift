import Foundation

/// One numbered change to a store's schema. A store lists its migrations in order; at start the
/// ones a database has not had yet are applied, each in its own transaction with its row in
/// `schema_migrations (component, version, name, applied_at)` — so a database says which
/// versions it holds, a migration runs exactly once, and one that fails leaves nothing half
/// done. Several instances starting at once on one PostgreSQL database take turns (an advisory
/// lock); SQLite's write lock does the same for processes sharing a file.
///
/// A migration is never edited once released: a later change is a new version.
public struct SchemaMigration: Sendable {
    public var version: Int
    public var name: String
    /// SQL statements, in order (no parameters).
    public var statements: [String]

    public init(_ version: Int, _ name: String, _ statements: [String]) {
        self.version = version
        self.name = name
        self.statements = statements
    }

    static let table = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            component TEXT NOT NULL,
            version INTEGER NOT NULL,
            name TEXT NOT NULL,
            applied_at TEXT NOT NULL,
            PRIMARY KEY (component, version))
        """

    /// Versions must count up from 1 without gaps (a typo'd number must not skip a change).
    static func checkOrder(_ migrations: [SchemaMigration], component: String) {
        for (index, migration) in migrations.enumerated() {
            precondition(migration.version == index + 1, "\(component) migration \(migration.name) is numbered \(migration.version), expected \(index + 1)")
        }
    }

    /// Applies `migrations` of `component` that the SQLite database lacks. `before` runs inside
    /// a migration's transaction ahead of its statements (SQLite's version 1 brings files from
    /// before versioning up to it).
    static func apply(_ migrations: [SchemaMigration], component: String, to database: SQLiteDatabase,
                      before: (SchemaMigration, SQLiteDatabase.Statements) throws -> Void = { _, _ in }) throws {
        checkOrder(migrations, component: component)
        try database.execute(table)
        for migration in migrations {
            try database.transaction { db in
                let done = try db.execute("SELECT 1 FROM schema_migrations WHERE component = ? AND version = ?",
                                          [.text(component), .integer(Int64(migration.version))])
                guard done.isEmpty else { return }
                try before(migration, db)
                for statement in migration.statements { try db.execute(statement) }
                try db.execute("INSERT INTO schema_migrations (component, version, name, applied_at) VALUES (?, ?, ?, ?)",
                               [.text(component), .integer(Int64(migration.version)), .text(migration.name), .text(Date().ISO8601Format())])
            }
        }
    }

}

#if NETLAB_POSTGRES
extension SchemaMigration {
    /// Applies `migrations` of `component` that the PostgreSQL database lacks, one instance at
    /// a time (a transaction-scoped advisory lock: the others wait, then find them applied).
    static func apply(_ migrations: [SchemaMigration], component: String, to database: PostgresDatabase) throws {
        checkOrder(migrations, component: component)
        for migration in migrations {
            try database.transaction { connection in
                try connection.execute("SELECT pg_advisory_xact_lock(\(PostgresLocks.migrations))")
                try connection.execute(table)
                let done = try connection.execute("SELECT 1 FROM schema_migrations WHERE component = $1 AND version = $2",
                                                  [.text(component), .integer(Int64(migration.version))])
                guard done.isEmpty else { return }
                for statement in migration.statements { try connection.execute(statement) }
                try connection.execute("INSERT INTO schema_migrations (component, version, name, applied_at) VALUES ($1, $2, $3, $4)",
                                       [.text(component), .integer(Int64(migration.version)), .text(migration.name), .text(Date().ISO8601Format())])
            }
        }
    }

    /// The versions of `component` a database holds (tests and `netlab gateway` report them).
    static func applied(component: String, in database: PostgresDatabase) throws -> [Int] {
        try database.execute("SELECT version FROM schema_migrations WHERE component = $1 ORDER BY version", [.text(component)])
            .compactMap { $0[0].integer.map(Int.init) }
    }
}
#endif

/// The advisory lock keys NetLab takes on PostgreSQL (one number space per database).
enum PostgresLocks {
    /// Held while migrations are applied.
    static let migrations: Int64 = 0x4E4C_0001
    /// Held by the instance whose turn it is to run the timers (see ``PostgresInstance``).
    static let timers: Int64 = 0x4E4C_0002
    /// `(instanceClass, id)`: held by live instance `id` for as long as it runs.
    static let instanceClass: Int32 = 0x4E4C

    /// SQL that is true when the instance numbered `owner` (a column or expression) is gone: no
    /// session of this database holds its lock. `classParameter` is the statement's parameter
    /// (`$n`) bound to ``instanceClass``.
    static func instanceIsGone(_ owner: String, classParameter: String) -> String {
        """
        NOT EXISTS (SELECT 1 FROM pg_locks AS l WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
            AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND l.classid::bigint = \(classParameter) AND l.objid::bigint = \(owner))
        """
    }
}
