/// A value in or out of a store's database: SQLite's four storage classes, which are also all
/// the gateway asks of PostgreSQL (`bigint`, `text`, `bytea`, NULL).
public enum SQLValue: Hashable, Sendable {
    case integer(Int64)
    case text(String)
    case blob([UInt8])
    case null

    var text: String? { if case .text(let s) = self { return s } else { return nil } }
    var integer: Int64? { if case .integer(let i) = self { return i } else { return nil } }
    var bytes: [UInt8]? { if case .blob(let b) = self { return b } else { return nil } }
}
