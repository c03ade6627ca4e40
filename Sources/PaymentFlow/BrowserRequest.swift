import Foundation
import HTTPParser
import NetLab

/// What every service checks of a request that a browser makes on a person's behalf — the
/// gateway's pages, the bank's simulators and the shop alike.
///
/// **Cross-site requests.** A page elsewhere must not make the customer's browser pay, approve or
/// order (the services listen on loopback, so a visited site reaches them only through that
/// browser). A browser says where a request comes from in `Sec-Fetch-Site`, or in `Origin`,
/// whose host must be the one the request went to. A request with neither (a server-side
/// client, curl, an old browser) passes: it is no one's browser being steered.
///
/// **JSON only as JSON.** A script's JSON post must say `Content-Type: application/json`: a
/// cross-site page can send a `text/plain` form whose body parses as JSON without asking, but
/// not a JSON content type (that needs a CORS preflight, which no service grants).
public enum BrowserRequest {
    /// True when a browser says the request comes from another site.
    public static func isCrossSite(_ request: HTTPRequest) -> Bool {
        if let site = request.fields["Sec-Fetch-Site"], site == "cross-site" || site == "same-site" { return true }
        guard let origin = request.fields["Origin"] else { return false }
        guard let host = request.fields["Host"], origin != "null", let url = try? HTTPURL(origin) else { return true }
        return url.hostField != host
    }

    /// Throws 403 for a cross-site request (see ``isCrossSite(_:)``).
    public static func refuseCrossSite(_ request: HTTPRequest) throws {
        if isCrossSite(request) { throw HTTPError(status: 403, message: "This form may only be posted from its own page") }
    }

    /// Throws 403 for a cross-site request and 415 for a body not declared as JSON.
    public static func requireSameSiteJSON(_ request: HTTPRequest) throws {
        try refuseCrossSite(request)
        guard request.fields["Content-Type"]?.lowercased().hasPrefix("application/json") == true else {
            throw HTTPError(status: 415, message: "The body must be JSON (Content-Type: application/json)")
        }
    }

    /// An http(s) origin (`scheme://host[:port]`, nothing more) if `text` is one.
    public static func origin(_ text: String?) -> String? {
        guard let text, let url = try? HTTPURL(text), text == "\(url.scheme.rawValue)://\(url.hostField)" else { return nil }
        return text
    }

    /// The origin of an http(s) URL (`https://127.0.0.1:8443/x` → `https://127.0.0.1:8443`).
    public static func origin(of url: String) -> String {
        guard let parsed = try? HTTPURL(url) else { return url }
        return "\(parsed.scheme.rawValue)://\(parsed.hostField)"
    }

    /// A form post (`application/x-www-form-urlencoded`) or a JSON object, as string fields.
    public static func fields(_ request: HTTPRequest) -> [String: String] {
        if let object = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] {
            return object.compactMapValues { $0 as? String }
        }
        var fields: [String: String] = [:]
        for pair in String(decoding: request.body, as: UTF8.self).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map {
                String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0)
            }
            if parts.count == 2 { fields[parts[0]] = parts[1] }
        }
        return fields
    }

    /// Whether the request is a plain form post (no script): its answer should be a page.
    public static func isFormPost(_ request: HTTPRequest) -> Bool {
        request.fields["Content-Type"]?.lowercased().hasPrefix("application/x-www-form-urlencoded") == true
    }
}
