import Foundation
import HTTPParser
import NetLab

/// The few HTML helpers the gateway's pages need.
enum HTML {
    static func page(title: String, body: String, status: Int = 200) -> HTTPResponse {
        let html = """
            <!doctype html>
            <html><head><meta charset="utf-8"><title>\(escape(title))</title></head>
            <body>
            \(body)
            </body></html>
            """
        return HTTPResponse(status: status, fields: HTTPFields(["Content-Type": "text/html; charset=utf-8"]), body: .bytes(Array(html.utf8)))
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    /// Refuses a form posted from another site (a page elsewhere making the customer's browser
    /// approve something): the browser says so in `Sec-Fetch-Site`, or its `Origin` names
    /// another host than the one the request went to. Requests without either (a server-side
    /// client, an old browser) pass.
    static func refuseCrossSite(_ request: HTTPRequest) throws(GatewayError) {
        if let site = request.fields["Sec-Fetch-Site"], site == "cross-site" || site == "same-site" { throw .crossSitePost }
        if let origin = request.fields["Origin"] {
            guard let host = request.fields["Host"], origin != "null", let url = try? HTTPURL(origin), url.hostField == host else {
                throw .crossSitePost
            }
        }
    }

    /// A form post (`application/x-www-form-urlencoded`, as the OTP page sends) or a JSON object.
    static func formOrJSON(_ request: HTTPRequest) -> [String: String] {
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
}
