import Foundation

/// How both engines' account stores keep linked accounts, subscriptions and payment links: as
/// JSON bodies, with the keys they are found by in columns of their own.
enum AccountJSON {
    static func encode(_ value: some Encodable) throws -> String {
        String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ value: SQLValue) throws -> T {
        try JSONDecoder().decode(T.self, from: Data((value.text ?? "").utf8))
    }

    /// A subscription's row: id, active, next execution (ms), body.
    static func row(_ subscription: Subscription) throws -> [SQLValue] {
        [.text(subscription.id), .integer(subscription.status == .active ? 1 : 0), .integer(subscription.nextExecutionAt),
         .text(try encode(subscription))]
    }
}
