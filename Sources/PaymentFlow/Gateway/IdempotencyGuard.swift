import Foundation
import HTTPParser
import NetLab
import TLSWrapper

/// `Idempotency-Key` on the gateway's POSTs: a merchant that timed out may send the same
/// request again, and it must not be charged (or refunded, or cancelled) twice.
///
/// The key is claimed in one atomic step of the store, bound to a fingerprint of the request
/// that first used it (method, path and body), so:
/// - the first request with a key runs; a repeat while it runs gets Midtrans' `202`;
/// - a repeat after it answered gets the stored answer, with `Idempotent-Replayed: true`, for
///   ``GatewayConfiguration/idempotencyLifetime`` (Midtrans: 5 minutes);
/// - the same key on another request (another order, another route, another body) is refused
///   (`409`), as Stripe and Midtrans' Iris do — it would otherwise replay the first answer and
///   the merchant would believe order B was created when it never was;
/// - only successful answers are kept: a failed request may be retried with the same key.
public struct IdempotencyGuard: Sendable {
    let store: any IdempotencyStore
    let lifetime: Duration
    let now: @Sendable () -> Date

    /// The longest key accepted.
    public static let maximumKeyLength = 64

    /// Runs `body` once per key (see the type's contract); without a key, simply runs it.
    public func run(_ request: HTTPRequest, merchant: MerchantAccount, _ body: () async throws -> HTTPResponse) async throws -> HTTPResponse {
        guard let key = request.fields["Idempotency-Key"], !key.isEmpty else { return try await body() }
        guard key.utf8.count <= Self.maximumKeyLength, key.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw GatewayError.validation(["Idempotency-Key must be 1 to \(Self.maximumKeyLength) visible ASCII characters"])
        }
        let started = Timestamp.millis(now())
        let claim = try storing {
            try store.claimIdempotencyKey(merchantID: merchant.merchantID, key: key, fingerprint: Self.fingerprint(request),
                                          now: started, lifetime: Timestamp.millis(lifetime))
        }
        switch claim {
        case .running: throw GatewayError.idempotencyKeyRunning
        case .boundToAnotherRequest: throw GatewayError.idempotencyKeyReused
        case .replay(let stored):
            var response = HTTPResponse(status: stored.status, fields: HTTPFields(["Content-Type": "application/json"]), body: .bytes(stored.body))
            try? response.fields.append(name: "Idempotent-Replayed", value: "true")
            return response
        case .claimed:
            let response: HTTPResponse
            do {
                response = try await body()
            } catch {
                try? store.releaseIdempotencyKey(merchantID: merchant.merchantID, key: key, claimedAt: started)
                throw error
            }
            if response.status < 300, case .bytes(let bytes) = response.body {
                try storing {
                    try store.completeIdempotencyKey(merchantID: merchant.merchantID, key: key, claimedAt: started,
                                                     answer: IdempotentAnswer(status: response.status, body: bytes, storedAt: started))
                }
            } else {
                try? store.releaseIdempotencyKey(merchantID: merchant.merchantID, key: key, claimedAt: started)
            }
            return response
        }
    }

    /// What makes two requests "the same": method, path (with its query) and body — a JSON body
    /// by its meaning (members in any order, any spacing), anything else byte for byte.
    static func fingerprint(_ request: HTTPRequest) -> String {
        var body = request.body
        if let parsed = try? JSONSerialization.jsonObject(with: Data(request.body), options: [.fragmentsAllowed]),
            let canonical = try? JSONText.encode(parsed)
        {
            body = canonical
        }
        return Digest.sha512Hex(Array("\(request.method) \(request.target)\n".utf8) + body)
    }

}

/// Runs a store call; a store failure becomes ``GatewayError/internalFailure(_:)``.
func storing<T>(_ call: () throws -> T) throws(GatewayError) -> T {
    do {
        return try call()
    } catch let error as GatewayError {
        throw error
    } catch {
        throw .internalFailure("store: \(error)")
    }
}
