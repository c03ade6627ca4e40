import CSQLite
import Foundation
import TCPSocket

/// A failed SQLite call: the result code, SQLite's message and the statement that failed.
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    public var code: Int32
    public var message: String
    public var statement: String

    public var description: String { "SQLite error \(code) (\(message)) in: \(statement)" }
}

/// One SQLite connection, used by one thread at a time (calls are serialized by a lock).
///
/// The file is opened in WAL mode with `synchronous=NORMAL`: a committed transaction survives
/// the process being killed at any instant (the write-ahead log is in the OS's hands once the
/// commit returns); only a power cut can take the last few commits. Readers in other processes
/// (the notification service run separately) see each commit as it lands. The file is created
/// 0600: it holds merchants' server keys.
public final class SQLiteDatabase: @unchecked Sendable {
    private let handle: OpaquePointer
    private let lock = Locked(())
    public let path: String
    /// Prepared statements by their SQL, kept for the next call (preparing is parse and plan:
    /// the same few dozen statements run for every charge). Touched only under `lock`.
    private var prepared: [String: OpaquePointer] = [:]
    /// More distinct statements than this (SQL built with values in it) are not kept.
    static let preparedLimit = 256

    /// Opens (creating if needed) the database at `path`; ":memory:" is a private in-memory one.
    public init(path: String) throws(SQLiteError) {
        self.path = path
        if path != ":memory:" && !FileManager.default.fileExists(atPath: path) {
            // Create it 0600 before SQLite does (SQLite would follow the umask).
            _ = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
        }
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(db)
            throw SQLiteError(code: rc, message: message, statement: "open \(path)")
        }
        handle = db
        // Another process (or connection) holding the write lock: wait up to 5 s, not fail.
        sqlite3_busy_timeout(db, 5000)
        try execute("PRAGMA journal_mode=WAL")
        try execute("PRAGMA synchronous=NORMAL")
        try execute("PRAGMA foreign_keys=ON")
    }

    deinit {
        for statement in prepared.values { sqlite3_finalize(statement) }
        sqlite3_close_v2(handle)
    }

    /// Runs one statement and returns its rows (empty for statements that return none).
    @discardableResult
    public func execute(_ sql: String, _ parameters: [SQLValue] = []) throws(SQLiteError) -> [[SQLValue]] {
        try lock.withLock { _ throws(SQLiteError) in try run(sql, parameters) }
    }

    /// Runs `body` inside one transaction (`BEGIN IMMEDIATE` … `COMMIT`), rolled back if it
    /// throws. The body gets a `Statements` handle; it must not call the database otherwise.
    public func transaction<R>(_ body: (Statements) throws -> R) throws -> R {
        try lock.withLock { _ in
            _ = try run("BEGIN IMMEDIATE", [])
            do {
                let result = try body(Statements(database: self))
                _ = try run("COMMIT", [])
                return result
            } catch {
                _ = try? run("ROLLBACK", [])
                throw error
            }
        }
    }

    /// Runs `body` with the connection to itself but no transaction (for reads: each
    /// statement sees the latest commit).
    public func read<R>(_ body: (Statements) throws -> R) throws -> R {
        try lock.withLock { _ in try body(Statements(database: self)) }
    }

    /// What a transaction's body may run (the lock is already held).
    public struct Statements {
        let database: SQLiteDatabase
        @discardableResult
        public func execute(_ sql: String, _ parameters: [SQLValue] = []) throws(SQLiteError) -> [[SQLValue]] {
            try database.run(sql, parameters)
        }
        /// Rows changed by the last INSERT, UPDATE or DELETE.
        public var changes: Int { Int(sqlite3_changes(database.handle)) }
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE (call inside the same lock scope).
    private func run(_ sql: String, _ parameters: [SQLValue]) throws(SQLiteError) -> [[SQLValue]] {
        var rc = SQLITE_OK
        let statement: OpaquePointer
        let kept: Bool
        if let cached = prepared[sql] {
            statement = cached
            kept = true
        } else {
            var made: OpaquePointer?
            rc = sqlite3_prepare_v2(handle, sql, -1, &made, nil)
            guard rc == SQLITE_OK, let made else { throw failure(rc, sql) }
            statement = made
            kept = prepared.count < Self.preparedLimit
            if kept { prepared[sql] = made }
        }
        // A kept statement is reset for its next use (its bindings cleared: a value must never
        // leak into another call); any other is finalized.
        defer {
            if kept {
                sqlite3_reset(statement)
                sqlite3_clear_bindings(statement)
            } else {
                sqlite3_finalize(statement)
            }
        }
        for (index, value) in parameters.enumerated() {
            let position = Int32(index + 1)
            switch value {
            case .integer(let i): rc = sqlite3_bind_int64(statement, position, i)
            case .text(let s):
                // Bound with its byte length, never as a C string: a NUL inside the text must
                // not cut it short (two different order ids would become one).
                var text = s
                rc = text.withUTF8 { sqlite3_bind_text(statement, position, $0.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }, Int32($0.count), Self.transient) }
            case .blob(let bytes):
                rc = bytes.withUnsafeBytes { sqlite3_bind_blob(statement, position, $0.baseAddress, Int32($0.count), Self.transient) }
            case .null: rc = sqlite3_bind_null(statement, position)
            }
            guard rc == SQLITE_OK else { throw failure(rc, sql) }
        }
        var rows: [[SQLValue]] = []
        while true {
            rc = sqlite3_step(statement)
            if rc == SQLITE_DONE { return rows }
            guard rc == SQLITE_ROW else { throw failure(rc, sql) }
            var row: [SQLValue] = []
            for column in 0..<sqlite3_column_count(statement) {
                switch sqlite3_column_type(statement, column) {
                case SQLITE_INTEGER: row.append(.integer(sqlite3_column_int64(statement, column)))
                case SQLITE_NULL: row.append(.null)
                case SQLITE_BLOB:
                    let count = Int(sqlite3_column_bytes(statement, column))
                    let bytes = sqlite3_column_blob(statement, column).map { Array(UnsafeRawBufferPointer(start: $0, count: count)) } ?? []
                    row.append(.blob(bytes))
                default:
                    let count = Int(sqlite3_column_bytes(statement, column))
                    let text = sqlite3_column_text(statement, column).map {
                        String(decoding: UnsafeBufferPointer(start: $0, count: count), as: UTF8.self)
                    }
                    row.append(.text(text ?? ""))
                }
            }
            rows.append(row)
        }
    }

    private func failure(_ rc: Int32, _ sql: String) -> SQLiteError {
        SQLiteError(code: rc, message: String(cString: sqlite3_errmsg(handle)), statement: sql)
    }

    /// SQLITE_TRANSIENT: SQLite copies bound text and blobs before the call returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
}
