import Foundation
import HTTPParser
import NetLab

/// The gateway's side of the bank's API (``BankAPI``): one method per call, typed both ways.
///
/// Every call presents the gateway's key (`Authorization: Bearer …`): the bank lets only its
/// gateway reverse or refund. A call that gets no answer throws ``Failure/noAnswer``: the bank
/// may or may not have acted, and the caller must treat the outcome as *in doubt*. A call the
/// bank refused throws ``Failure/refused(status:message:)``: nothing happened there.
struct BankClient: Sendable {
    enum Failure: Error, Equatable {
        /// No answer (connection failed, timed out, or an answer that is not the API's).
        case noAnswer(String)
        /// The bank answered with an error status; it did not act.
        case refused(status: Int, message: String)
    }

    let baseURL: String
    let key: String
    let client: HTTPClient

    func authorize(_ authorization: BankAPI.CardAuthorization) async throws(Failure) -> BankAPI.AuthorizationAnswer {
        try await call(.post, "/cards/authorize", authorization)
    }

    func verify(authenticationID: String, otp: String) async throws(Failure) -> BankAPI.AuthorizationAnswer {
        try await call(.post, "/3ds/\(Self.segment(authenticationID))", BankAPI.OTPSubmission(otp: otp))
    }

    func points(_ inquiry: BankAPI.PointInquiry) async throws(Failure) -> BankAPI.PointBalance {
        try await call(.post, "/cards/points", inquiry)
    }

    func linkWallet(_ link: BankAPI.WalletLink) async throws(Failure) -> BankAPI.WalletLinked {
        try await call(.post, "/wallets/link", link)
    }

    func unlinkWallet(token: String) async throws(Failure) -> BankAPI.WalletToken {
        try await call(.post, "/wallets/unlink", BankAPI.WalletToken(token: token))
    }

    func walletBalance(token: String) async throws(Failure) -> BankAPI.WalletBalance {
        try await call(.post, "/wallets/balance", BankAPI.WalletToken(token: token))
    }

    func payFromWallet(_ payment: BankAPI.WalletPayment) async throws(Failure) -> BankAPI.VirtualAccount {
        try await call(.post, "/wallets/pay", payment)
    }

    func openAccount(_ open: BankAPI.OpenAccount) async throws(Failure) -> BankAPI.VirtualAccount {
        try await call(.post, "/va", open)
    }

    /// Undoes whatever the bank did for `reference` (idempotent).
    func reverse(reference: String) async throws(Failure) -> BankAPI.Reversal {
        try await call(.post, "/references/\(Self.segment(reference))/reverse", Empty())
    }

    /// Gives `amount` back; the same `refund_key` refunds once.
    func refund(reference: String, _ refund: BankAPI.Refund) async throws(Failure) -> BankAPI.Holding {
        try await call(.post, "/references/\(Self.segment(reference))/refund", refund)
    }

    private struct Empty: Codable {}

    private func call<Request: Encodable, Answer: Decodable>(_ method: HTTPMethod, _ path: String, _ body: Request) async throws(Failure) -> Answer {
        let response: HTTPClientResponse
        do {
            var request = HTTPClientRequest(method: method, url: try HTTPURL(baseURL + path))
            request.body = Array(try JSONEncoder().encode(body))
            try request.fields.append(name: "Content-Type", value: "application/json")
            try request.fields.append(name: "Authorization", value: "Bearer \(key)")
            response = try await client.execute(request)
        } catch {
            throw .noAnswer(String(describing: error))
        }
        guard response.status < 300 else {
            // 5xx: the bank failed while it may have been acting — in doubt, as no answer is.
            if response.status >= 500 { throw .noAnswer("the bank answered \(response.status)") }
            throw .refused(status: response.status, message: String(decoding: response.body.prefix(200), as: UTF8.self))
        }
        do {
            return try response.decodeJSON(Answer.self)
        } catch {
            throw .noAnswer("the bank's answer is not \(Answer.self): \(error)")
        }
    }

    /// A path segment made of what the gateway itself generated (UUIDs, the bank's ids).
    private static func segment(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_.~"))) ?? text
    }
}
