import Foundation
import NetLab
import TCPSocket

/// Where a webhook may go. A merchant names the URL (its dashboard setting, or
/// `X-Override-Notification` on a charge), and the gateway's notification service calls it — so
/// a URL that leads to loopback or a private network would make the gateway call the services
/// beside it (the bank's routes, an admin page): server-side request forgery. Only a merchant
/// allowed private webhooks (a lab merchant on this machine or the lab's network) may use them.
///
/// The name is resolved when the charge names it and again before every delivery and every
/// redirect hop (an address can change meanwhile), and the connection itself may go to public
/// addresses only (``HTTPClientConfiguration/permitsAddress`` on the notification service's
/// client): a name that answers a public address to the check and a private one to the connect
/// (DNS rebinding) is refused too. What a refused or failed delivery records is a plain reason,
/// never an address or a port (the delivery history must not be a port scanner).
enum WebhookTarget {
    /// The URL leads to a loopback or private address, and the merchant may not use those.
    struct Refused: Error, CustomStringConvertible {
        var description: String { "refused: the URL leads to a private or loopback address" }
    }

    /// Throws ``Refused`` if `url`'s host resolves to any private or local address (unless
    /// `allowPrivate`). A name that does not resolve passes here: the delivery then fails as
    /// any unreachable URL does.
    static func check(_ url: HTTPURL, allowPrivate: Bool) async throws {
        guard !allowPrivate else { return }
        let host = url.host.hasPrefix("[") ? String(url.host.dropFirst().dropLast()) : url.host
        guard let addresses = try? await SocketAddress.resolveAsync(host: host, port: url.port) else { return }
        if addresses.contains(where: \.isPrivateOrLocal) { throw Refused() }
    }

    /// What a failed delivery records: why, in a few plain words (no address, no port).
    static func reason(_ error: any Error) -> String {
        switch error {
        case let refused as Refused: refused.description
        case is DeliveryTimeout: "no answer: timed out"
        case let socket as SocketError:
            switch socket {
            case .connectionRefused: "no answer: connection refused"
            case .connectionReset, .brokenPipe: "no answer: connection reset"
            case .unreachable: "no answer: unreachable"
            case .timedOut, .kernelTimeout: "no answer: timed out"
            case .hostNotFound: "no answer: host not found"
            default: "no answer: network error"
            }
        default: "no answer: \(String(describing: type(of: error)))"
        }
    }
}
