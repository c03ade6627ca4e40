import Foundation
import NetLab

/// How the payment service asks fraud detection: over HTTP(S) to the fraud service
/// (`POST /v1/assess`, ``FraudCheck`` → ``FraudVerdict``), or to the same rules in-process when
/// no service is configured.
struct FraudClient: Sendable {
    enum Route: Sendable {
        case service(url: String, client: HTTPClient)
        case inProcess(FraudService)
    }

    let route: Route

    /// The verdict; an unreachable or failing service is Midtrans' `504 Fraud detection unavailable`.
    func assess(_ check: FraudCheck) async throws(GatewayError) -> FraudVerdict {
        switch route {
        case .inProcess(let rules):
            return rules.assess(check)
        case .service(let url, let client):
            do {
                var request = HTTPClientRequest(method: .post, url: try HTTPURL(url + "/v1/assess"))
                request.body = Array(try JSONEncoder().encode(check))
                try request.fields.append(name: "Content-Type", value: "application/json")
                let response = try await client.execute(request)
                guard response.status == 200 else { throw GatewayError.fraudUnavailable }
                return try response.decodeJSON(FraudVerdict.self)
            } catch {
                throw .fraudUnavailable
            }
        }
    }
}
