#if NETLAB_POSTGRES
import Foundation
import TCPSocket

/// A PostgreSQL database shared by every gateway instance: a small pool of libpq connections.
///
/// Each call borrows one connection for as long as it runs (a caller waits when all are out),
/// so a store built on it is safe from any thread. ``transaction(_:)`` is one `BEGIN … COMMIT`
/// at READ COMMITTED, PostgreSQL's default: the stores take the row locks their atomic steps
/// need (`SELECT … FOR UPDATE`, `SKIP LOCKED`) and let unique constraints settle races. A
/// transaction that lost a deadlock or a serialization check is run again from the start (its
/// body must not do anything but statements). A connection that broke (the server restarted,
/// the network cut) is dropped and a fresh one made on the next call; the call that found it
/// broken fails — it is never resent, as it may have committed.
public final class PostgresDatabase: @unchecked Sendable {
    /// libpq's connection URI, as given (printed only through ``redactedURL``).
    let url: String
    public let poolSize: Int
    private let condition = NSCondition()
    /// Idle connections, and how many exist (idle or lent). Touched only under `condition`.
    private var idle: [PostgresConnection] = []
    private var open = 0

    /// How many times a transaction that lost a deadlock or serialization check is run again.
    static let retries = 5

    /// Connects (one connection now, to fail early on a wrong URL; the rest when needed).
    public init(url: String, poolSize: Int = 8) throws(PostgresError) {
        precondition(poolSize > 0, "poolSize must be positive")
        self.url = url
        self.poolSize = poolSize
        idle = [try PostgresConnection(url: url)]
        open = 1
    }

    /// The URL without its password (see ``PaymentSystemOptions/redacted(storeURL:)``).
    public var redactedURL: String { PaymentSystemOptions.redacted(storeURL: url) }

    /// Runs one statement on its own (autocommit) and returns its rows.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [SQLValue] = []) throws(PostgresError) -> [[SQLValue]] {
        let connection = try borrow()
        defer { giveBack(connection) }
        return try connection.execute(sql, parameters)
    }

    /// Runs `body` inside one transaction, committed when it returns, rolled back if it throws;
    /// run again (from the start) after a deadlock or serialization failure.
    public func transaction<R>(_ body: (PostgresConnection) throws -> R) throws -> R {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try withConnection { connection in
                    do {
                        try connection.execute("BEGIN")
                    } catch let error as PostgresError where error.kind == .connection {
                        // Nothing was sent but BEGIN: an idle connection the server dropped
                        // (a restart). Safe to run again on a fresh one.
                        throw BrokenBeforeBegin(error: error)
                    }
                    do {
                        let result = try body(connection)
                        try connection.execute("COMMIT")
                        return result
                    } catch {
                        if connection.isHealthy { _ = try? connection.execute("ROLLBACK") }
                        throw error
                    }
                }
            } catch let error as PostgresError where error.isRetryable && attempt <= Self.retries {
                continue
            } catch let broken as BrokenBeforeBegin {
                guard attempt <= Self.retries else { throw broken.error }
                continue
            }
        }
    }

    private struct BrokenBeforeBegin: Error {
        let error: PostgresError
    }

    /// Runs `body` with one connection to itself and no transaction (each statement sees the
    /// latest commit).
    public func read<R>(_ body: (PostgresConnection) throws -> R) throws -> R {
        try withConnection(body)
    }

    private func withConnection<R>(_ body: (PostgresConnection) throws -> R) throws -> R {
        let connection = try borrow()
        do {
            let result = try body(connection)
            giveBack(connection)
            return result
        } catch {
            giveBack(connection)
            throw error
        }
    }

    /// How long a caller waits for a connection when all are lent out.
    static let borrowTimeout: TimeInterval = 30

    private func borrow() throws(PostgresError) -> PostgresConnection {
        condition.lock()
        let deadline = Date().addingTimeInterval(Self.borrowTimeout)
        while idle.isEmpty && open >= poolSize {
            guard condition.wait(until: deadline) else {
                condition.unlock()
                throw PostgresError(kind: .connection, sqlState: "", message: "no database connection came free within \(Int(Self.borrowTimeout)) s (all \(poolSize) busy)",
                                    statement: "borrow")
            }
        }
        if let connection = idle.popLast() {
            condition.unlock()
            return connection
        }
        open += 1
        condition.unlock()
        do {
            return try PostgresConnection(url: url)
        } catch {
            condition.lock()
            open -= 1
            condition.signal()
            condition.unlock()
            throw error
        }
    }

    private func giveBack(_ connection: PostgresConnection) {
        condition.lock()
        // A connection left broken, or inside a transaction, is dropped rather than lent again.
        if connection.isIdle { idle.append(connection) } else { open -= 1 }
        condition.signal()
        condition.unlock()
    }
}
#endif
