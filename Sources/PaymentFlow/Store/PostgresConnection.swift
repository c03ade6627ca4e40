#if NETLAB_POSTGRES
import CPostgres
import Foundation

/// One libpq connection, used by one thread at a time (``PostgresDatabase`` hands each out to
/// one caller; the instance's own session keeps one for itself).
///
/// Statements are prepared once per connection (parse and plan, as SQLite's are kept) and run
/// with `$1`-style parameters sent apart from the SQL, never spliced into it: text parameters
/// as text, blobs in binary, so neither quoting nor a NUL can change what a value means.
/// Results come back as text and are read by their column type (`int2/4/8` and `bool` as
/// integers, `bytea` as bytes).
public final class PostgresConnection: @unchecked Sendable {
    let handle: OpaquePointer
    /// Statement names by their SQL.
    private var prepared: [String: String] = [:]
    /// Rows the last INSERT, UPDATE or DELETE touched.
    public private(set) var changes = 0

    /// What every connection sets unless its URL says otherwise: give up connecting after 5 s,
    /// and notice a peer that vanished (a pulled cable, a crashed machine) within about 25 s —
    /// TCP keepalives after 10 s idle, every 5 s, 3 unanswered; unacknowledged data after 20 s —
    /// instead of the kernel's two hours.
    static let defaults = [
        ("connect_timeout", "5"), ("keepalives", "1"), ("keepalives_idle", "10"), ("keepalives_interval", "5"),
        ("keepalives_count", "3"), ("tcp_user_timeout", "20000"),
    ]

    /// Connects to `url` (`postgres://user@host:port/database?…`, libpq's connection URI; a
    /// password may also come from `PGPASSWORD` or `~/.pgpass`, which keeps it off command lines).
    public init(url: String) throws(PostgresError) {
        // The URL first (expanded), then the defaults it does not set itself.
        let settings = [("dbname", url)] + Self.defaults.filter { !url.contains($0.0 + "=") }
        let connection = Self.withCStrings(settings.map(\.0)) { keywords in
            Self.withCStrings(settings.map(\.1)) { values in PQconnectdbParams(keywords, values, 1) }
        }
        guard let connection else {
            throw PostgresError(kind: .connection, sqlState: "", message: "out of memory", statement: "connect")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = Self.trimmed(PQerrorMessage(connection))
            PQfinish(connection)
            throw PostgresError(kind: .connection, sqlState: "", message: message, statement: "connect")
        }
        handle = connection
        // The server's notices (e.g. "relation already exists, skipping") are not errors and
        // must not reach standard error through libpq's default receiver.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        // bytea is read as hex (the default since 9.0, but a server may be set otherwise).
        try script("SET bytea_output = hex")
    }

    /// Calls `body` with a NULL-terminated array of C strings, valid for the call.
    private static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
        let copies = strings.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        let pointers: [UnsafePointer<CChar>?] = copies.map { $0.map { UnsafePointer($0) } } + [nil]
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    deinit { PQfinish(handle) }

    /// The connection is usable (false once the server went away or it was cut).
    public var isHealthy: Bool { PQstatus(handle) == CONNECTION_OK }

    /// Usable and outside any transaction: fit to hand to the next caller.
    var isIdle: Bool { isHealthy && PQtransactionStatus(handle) == PQTRANS_IDLE }

    /// The socket, for waiting on notifications.
    var socket: Int32 { PQsocket(handle) }

    /// Runs one statement and returns its rows (empty for statements that return none).
    @discardableResult
    public func execute(_ sql: String, _ parameters: [SQLValue] = []) throws(PostgresError) -> [[SQLValue]] {
        // PostgreSQL's text cannot hold a NUL, and libpq would end the value there: two order
        // ids that differ after a NUL would become one. Refused instead (SQLite keeps them whole).
        for case .text(let value) in parameters where value.utf8.contains(0) {
            throw PostgresError(kind: .statement, sqlState: "22021", message: "a text value holds a NUL byte", statement: sql)
        }
        let name: String
        if let known = prepared[sql] {
            name = known
        } else {
            name = "s\(prepared.count)"
            let result = PQprepare(handle, name, sql, 0, nil)
            defer { PQclear(result) }
            try check(result, sql)
            prepared[sql] = name
        }
        let result = Self.withParameters(parameters) { values, lengths, formats in
            PQexecPrepared(handle, name, Int32(parameters.count), values, lengths, formats, 0)
        }
        defer { PQclear(result) }
        try check(result, sql)
        changes = Int(String(cString: PQcmdTuples(result))) ?? 0
        return try rows(result, sql)
    }

    /// Runs SQL text as it is, several statements allowed, no parameters (schema migrations).
    public func script(_ sql: String) throws(PostgresError) {
        let result = PQexec(handle, sql)
        defer { PQclear(result) }
        try check(result, sql)
    }

    /// Reads what the server sent without waiting and returns the channels notified
    /// (`LISTEN`/`NOTIFY`) since the last call.
    func notifications() throws(PostgresError) -> [String] {
        guard PQconsumeInput(handle) == 1 else {
            throw PostgresError(kind: .connection, sqlState: "", message: Self.trimmed(PQerrorMessage(handle)), statement: "LISTEN")
        }
        var channels: [String] = []
        while let notice = PQnotifies(handle) {
            channels.append(String(cString: notice.pointee.relname))
            PQfreemem(notice)
        }
        return channels
    }

    private func check(_ result: OpaquePointer?, _ sql: String) throws(PostgresError) {
        let status = result.map(PQresultStatus) ?? PGRES_FATAL_ERROR
        guard status != PGRES_COMMAND_OK, status != PGRES_TUPLES_OK else { return }
        let state = result.flatMap { PQresultErrorField($0, Int32(UInt8(ascii: "C"))) }.map { String(cString: $0) } ?? ""
        let message = result.flatMap { PQresultErrorField($0, Int32(UInt8(ascii: "M"))) }.map { String(cString: $0) }
            ?? Self.trimmed(PQerrorMessage(handle))
        let kind: PostgresError.Kind = isHealthy && !state.isEmpty ? .statement : .connection
        throw PostgresError(kind: kind, sqlState: state, message: message, statement: sql)
    }

    private func rows(_ result: OpaquePointer?, _ sql: String) throws(PostgresError) -> [[SQLValue]] {
        guard let result, PQresultStatus(result) == PGRES_TUPLES_OK else { return [] }
        let rowCount = PQntuples(result), columnCount = PQnfields(result)
        let types = (0..<columnCount).map { PQftype(result, $0) }
        var rows: [[SQLValue]] = []
        rows.reserveCapacity(Int(rowCount))
        for row in 0..<rowCount {
            var values: [SQLValue] = []
            values.reserveCapacity(Int(columnCount))
            for column in 0..<columnCount {
                if PQgetisnull(result, row, column) == 1 {
                    values.append(.null)
                    continue
                }
                let count = Int(PQgetlength(result, row, column))
                let bytes = UnsafeRawPointer(PQgetvalue(result, row, column)!).assumingMemoryBound(to: UInt8.self)
                let text = UnsafeBufferPointer(start: bytes, count: count)
                switch types[Int(column)] {
                case Self.int8, Self.int4, Self.int2:
                    guard let number = Int64(String(decoding: text, as: UTF8.self)) else { throw Self.undecodable("integer", sql) }
                    values.append(.integer(number))
                case Self.bool:
                    values.append(.integer(text.first == UInt8(ascii: "t") ? 1 : 0))
                case Self.bytea:
                    guard let decoded = Self.hex(text) else { throw Self.undecodable("bytea", sql) }
                    values.append(.blob(decoded))
                default:
                    values.append(.text(String(decoding: text, as: UTF8.self)))
                }
            }
            rows.append(values)
        }
        return rows
    }

    // Type OIDs (pg_type.h; fixed since PostgreSQL 7).
    private static let bool: Oid = 16, bytea: Oid = 17, int8: Oid = 20, int2: Oid = 21, int4: Oid = 23

    /// `bytea`'s text output (`\x` then two hex digits a byte).
    static func hex(_ text: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard text.count >= 2, text[0] == UInt8(ascii: "\\"), text[1] == UInt8(ascii: "x"), text.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.count / 2 - 1)
        var index = 2
        while index < text.count {
            guard let high = nibble(text[index]), let low = nibble(text[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func undecodable(_ what: String, _ sql: String) -> PostgresError {
        PostgresError(kind: .decoding, sqlState: "", message: "a \(what) column that does not read as one", statement: sql)
    }

    private static func trimmed(_ message: UnsafePointer<CChar>?) -> String {
        message.map { String(cString: $0) }?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "unknown error"
    }

    /// Lays every parameter out in one buffer and calls `body` with libpq's three arrays:
    /// values (text NUL-terminated, blobs raw), lengths (used for binary ones) and formats.
    private static func withParameters<R>(
        _ parameters: [SQLValue],
        _ body: (UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?) -> R
    ) -> R {
        var buffer: [UInt8] = []
        var spans: [(offset: Int, length: Int)?] = []
        var formats: [Int32] = []
        for parameter in parameters {
            let start = buffer.count
            switch parameter {
            case .null:
                spans.append(nil)
                formats.append(0)
                continue
            case .integer(let value):
                buffer.append(contentsOf: String(value).utf8)
                formats.append(0)
            case .text(let value):
                buffer.append(contentsOf: value.utf8)
                formats.append(0)
            case .blob(let value):
                buffer.append(contentsOf: value)
                formats.append(1)
            }
            spans.append((start, buffer.count - start))
            buffer.append(0)
        }
        let lengths = spans.map { Int32($0?.length ?? 0) }
        return buffer.withUnsafeBufferPointer { storage in
            let base = UnsafeRawPointer(storage.baseAddress)
            let values: [UnsafePointer<CChar>?] = spans.map { span in
                span.flatMap { base?.advanced(by: $0.offset).assumingMemoryBound(to: CChar.self) }
            }
            return values.withUnsafeBufferPointer { values in
                lengths.withUnsafeBufferPointer { lengths in
                    formats.withUnsafeBufferPointer { formats in
                        body(values.baseAddress, lengths.baseAddress, formats.baseAddress)
                    }
                }
            }
        }
    }
}
#endif
