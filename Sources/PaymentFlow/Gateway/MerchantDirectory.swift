import Foundation
import NetLab
import TCPSocket

/// Who is calling: the merchants the gateway knows, found by their keys.
///
/// Every API request authenticates, so the merchants are cached: read from the store at most
/// once a second (reading them from SQLite each time cost more than the rest of a status call).
/// A key not found reloads — at most ten times a second, so a flood of wrong keys cannot keep
/// the database busy — and a merchant added by `netlab gateway merchant add` works within a
/// tenth of a second; a removed one is refused within a second. Keys are compared in constant time
/// against every merchant (no early exit, no hint of which key came close). The payment and the
/// notification services share this type.
public final class MerchantDirectory: Sendable {
    private let store: any MerchantStore
    private let cache = Locked<(list: [MerchantAccount], loaded: ContinuousClock.Instant)?>(nil)
    /// Counts ``invalidate()``s: a list read before the latest one is not kept (it may hold the
    /// keys the news said changed).
    private let generation = Locked(0)

    public init(store: any MerchantStore) {
        self.store = store
    }

    /// The merchant whose server key is the user name of the request's HTTP Basic
    /// authorization (Midtrans: the server key, an empty password).
    public func authenticate(_ request: HTTPRequest) throws(GatewayError) -> MerchantAccount {
        guard let key = Self.basicUser(request), let merchant = try find(key, \.serverKey) else { throw .unknownMerchant }
        return merchant
    }

    /// The merchant with this client key (browser-side calls: card tokens, 3-D Secure, Snap pages).
    public func merchant(clientKey: String) throws(GatewayError) -> MerchantAccount? {
        try find(clientKey, \.clientKey)
    }

    /// The merchant with this id.
    public func merchant(id: String) throws(GatewayError) -> MerchantAccount? {
        if let found = try list(fresh: false).first(where: { $0.merchantID == id }) { return found }
        return try list(fresh: true).first { $0.merchantID == id }
    }

    /// Forgets the cached merchants: the next request reads them again (another instance
    /// changed them).
    public func invalidate() {
        generation.withLock { current in
            current += 1
            cache.withLock { $0 = nil }
        }
    }

    private func find(_ key: String, _ field: KeyPath<MerchantAccount, String>) throws(GatewayError) -> MerchantAccount? {
        if let found = Self.match(key, field, in: try list(fresh: false)) { return found }
        return Self.match(key, field, in: try list(fresh: true))
    }

    private func list(fresh: Bool) throws(GatewayError) -> [MerchantAccount] {
        if let cached = cache.withLock({ $0 }), ContinuousClock.now - cached.loaded < (fresh ? .milliseconds(100) : .seconds(1)) {
            return cached.list
        }
        do {
            let before = generation.withLock { $0 }
            let list = try store.merchants()
            generation.withLock { current in
                if current == before { cache.withLock { $0 = (list, .now) } }
            }
            return list
        } catch {
            throw .internalFailure("reading merchants: \(error)")
        }
    }

    /// Compares against every merchant, always to the end.
    static func match(_ key: String, _ field: KeyPath<MerchantAccount, String>, in merchants: [MerchantAccount]) -> MerchantAccount? {
        var found: MerchantAccount?
        for merchant in merchants where ConstantTime.equal(key, merchant[keyPath: field]) { found = merchant }
        return found
    }

    /// The user name of HTTP Basic authorization (RFC 7617).
    static func basicUser(_ request: HTTPRequest) -> String? { basicCredentials(request)?.user }

    /// The user name and password of the request's HTTP Basic authorization (RFC 7617).
    static func basicCredentials(_ request: HTTPRequest) -> (user: String, password: String)? {
        // The scheme's name is case-insensitive (RFC 9110 §11.1): `basic` is Basic too.
        guard let header = request.fields["Authorization"], header.count > 6, header.prefix(6).lowercased() == "basic ",
            let decoded = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces)).map({ String(decoding: $0, as: UTF8.self) })
        else { return nil }
        let parts = decoded.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
    }
}
