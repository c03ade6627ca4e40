/// A failed PostgreSQL call: what failed, the server's SQLSTATE (five characters, e.g. `23505`
/// unique violation, `40P01` deadlock; empty when the failure was the connection's), its message
/// and the statement. Never carries parameter values (they may be keys or card data).
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// The connection could not be made, or broke (the server went away).
        case connection
        /// The server refused the statement (see ``sqlState``).
        case statement
        /// A stored value had a type or shape the store does not read.
        case decoding
    }

    public var kind: Kind
    public var sqlState: String
    public var message: String
    public var statement: String

    /// Another transaction got there first in a way that makes this one's work void: a
    /// serialization failure (`40001`) or a deadlock (`40P01`). Running it again is safe.
    public var isRetryable: Bool { sqlState == "40001" || sqlState == "40P01" }

    /// This build has no PostgreSQL support (libpq's headers were not there when it was built).
    public static func notBuilt(url: String) -> PostgresError {
        PostgresError(kind: .connection, sqlState: "", message: "this build of NetLab has no PostgreSQL support: install libpq's headers (Debian: libpq-dev, Homebrew: libpq) and build again",
                      statement: "connect")
    }

    public var description: String {
        switch kind {
        case .connection: "PostgreSQL connection failed (\(message))"
        case .statement: "PostgreSQL error \(sqlState) (\(message)) in: \(statement)"
        case .decoding: "PostgreSQL value not understood (\(message)) in: \(statement)"
        }
    }
}
