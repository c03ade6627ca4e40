import Foundation
import HTTPParser
import NetLab

/// The pages, scripts and styles the services serve to browsers: files under `Pages/` in this
/// module (gateway/, bank/, shop/, common/), plain HTML, CSS and JavaScript a student can read
/// and change — no framework, no build step, no CDN.
///
/// A page is a template: `{{name}}` is replaced by a value HTML-escaped for text and attribute
/// contexts (a merchant's order id cannot open a tag or an attribute). Values reach scripts
/// only through `data-` attributes, never inside a `<script>`. Every page and script is served
/// with a Content-Security-Policy that allows scripts from the page's own origin only (no
/// inline script at all), plus what the caller adds — the gateway's origin for a shop page
/// that loads `snap.js`, say.
public enum PageAssets {
    /// The files' folder inside the module's resources.
    static let root: URL? = Bundle.module.resourceURL?.appendingPathComponent("Pages", isDirectory: true)

    /// The bytes of `Pages/<path>`, or nil. Only names this module ships are read: `path` is
    /// one of the services' own constants, never a request's path.
    static func file(_ path: String) -> [UInt8]? {
        guard let root, !path.contains(".."), let data = FileManager.default.contents(atPath: root.appendingPathComponent(path).path) else {
            return nil
        }
        return Array(data)
    }

    /// `Content-Type` by extension.
    static func contentType(_ path: String) -> String {
        switch path.split(separator: ".").last {
        case "html": "text/html; charset=utf-8"
        case "js": "application/javascript; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "svg": "image/svg+xml"
        default: "application/octet-stream"
        }
    }

    /// The policy for a page: its own origin for everything, `extra` sources added per
    /// directive (`["script-src": "https://gateway", "frame-src": "https://gateway"]`).
    public static func policy(_ extra: [String: String] = [:], frameAncestors: String = "'self'") -> String {
        var directives: [(String, String)] = [
            ("default-src", "'self'"), ("script-src", "'self'"), ("style-src", "'self'"), ("img-src", "'self' data:"),
            ("connect-src", "'self'"), ("frame-src", "'self'"), ("form-action", "'self'"), ("base-uri", "'none'"),
            ("object-src", "'none'"), ("frame-ancestors", frameAncestors),
        ]
        for index in directives.indices { if let more = extra[directives[index].0] { directives[index].1 += " " + more } }
        return directives.map { "\($0.0) \($0.1)" }.joined(separator: "; ")
    }

    /// A static asset (a script, a style sheet) as an answer; 404 if the module has no such file.
    public static func asset(_ path: String) throws -> HTTPResponse {
        guard let bytes = file(path) else { throw HTTPError(status: 404, message: "no such file") }
        var fields = HTTPFields(["Content-Type": contentType(path)])
        try? fields.append(name: "X-Content-Type-Options", value: "nosniff")
        try? fields.append(name: "Cache-Control", value: "no-cache")
        return HTTPResponse(status: 200, fields: fields, body: .bytes(bytes))
    }

    /// The page `path` with each `{{name}}` replaced by its value, escaped; `policy` is its
    /// Content-Security-Policy.
    public static func page(_ path: String, _ values: [String: String] = [:], status: Int = 200, policy: String = policy()) throws -> HTTPResponse {
        guard let bytes = file(path) else { throw HTTPError(status: 404, message: "no such page") }
        let text = substitute(String(decoding: bytes, as: UTF8.self), values)
        var fields = HTTPFields(["Content-Type": "text/html; charset=utf-8"])
        try? fields.append(name: "Content-Security-Policy", value: policy)
        try? fields.append(name: "X-Content-Type-Options", value: "nosniff")
        try? fields.append(name: "Referrer-Policy", value: "same-origin")
        try? fields.append(name: "Cache-Control", value: "no-store")
        return HTTPResponse(status: status, fields: fields, body: .bytes(Array(text.utf8)))
    }

    /// A page that says one thing (a result, an error), in the gateway's plain style; it may
    /// not be framed.
    public static func message(title: String, heading: String, message: String, ok: Bool, status: Int = 200) -> HTTPResponse {
        let values = ["title": title, "heading": heading, "message": message, "kind": ok ? "ok" : "bad"]
        if let page = try? page("gateway/message.html", values, status: status, policy: policy(frameAncestors: "'none'")) { return page }
        // The module's own file is missing (a broken install): still an answer, still escaped.
        return HTTPResponse(status: status, fields: HTTPFields(["Content-Type": "text/plain; charset=utf-8"]), body: .bytes(Array("\(heading)\n\(message)\n".utf8)))
    }

    /// `{{name}}` → its value, escaped, in one pass over the template (a value that itself
    /// holds `{{other}}` stays as it is). A name with no value is left visible: tests look for it.
    static func substitute(_ template: String, _ values: [String: String]) -> String {
        var out = ""
        out.reserveCapacity(template.utf8.count)
        var rest = Substring(template)
        while let open = rest.range(of: "{{") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].range(of: "}}") else { rest = rest[open.lowerBound...]; break }
            let name = String(rest[open.upperBound..<close.lowerBound])
            out += values[name].map(escape) ?? "{{\(name)}}"
            rest = rest[close.upperBound...]
        }
        out += rest
        return out
    }

    /// Text made safe for HTML text and quoted attributes.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}
