import Foundation
import HTTPParser

/// Serves the files under a directory for GET and HEAD: `netlab serve http --root DIR`.
///
/// A request path is percent-decoded and split into segments; `..`, `.`, hidden names (`.git`,
/// `.env`) and any segment holding `/` or NUL after decoding are refused with 404, and the file's
/// real path (symbolic links resolved) must still lie under the root's, so nothing outside the
/// root can be reached. A directory answers with its `index.html`, or else a listing. Files over
/// 1 MiB are streamed in 64 KiB pieces rather than read whole. (File reads are plain blocking
/// reads on the connection's thread: fine for a lab's files, not for a CDN.)
public struct StaticFiles: Sendable {
    public let root: URL

    public init(root: String) {
        self.root = URL(fileURLWithPath: root, isDirectory: true).standardizedFileURL.resolvingSymlinksInPath()
    }

    /// The handler to install as a router's fallback.
    public var handler: HTTPHandler {
        { [root] request in
            guard request.method == .get || request.method == .head else {
                throw HTTPError(status: 405, fields: HTTPFields(["Allow": "GET, HEAD"]))
            }
            var file = root
            for raw in request.path.split(separator: "/", omittingEmptySubsequences: true) {
                guard let segment = String(raw).removingPercentEncoding, !segment.hasPrefix("."),
                    !segment.contains("/"), !segment.contains("\0")
                else { throw HTTPError(status: 404) }
                file.appendPathComponent(segment)
            }
            // A symbolic link under the root must not lead out of it.
            let real = file.resolvingSymlinksInPath().path
            guard real == root.path || real.hasPrefix(root.path + "/") else { throw HTTPError(status: 404) }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: file.path, isDirectory: &isDirectory) else {
                throw HTTPError(status: 404)
            }
            if isDirectory.boolValue {
                let index = file.appendingPathComponent("index.html")
                if FileManager.default.fileExists(atPath: index.path) {
                    return try Self.fileResponse(index)
                }
                // Listed: what a request could fetch — no hidden names, nothing that leads out of the root.
                let names = ((try? FileManager.default.contentsOfDirectory(atPath: file.path).sorted()) ?? []).filter { name in
                    guard !name.hasPrefix(".") else { return false }
                    let real = file.appendingPathComponent(name).resolvingSymlinksInPath().path
                    return real == root.path || real.hasPrefix(root.path + "/")
                }
                let base = request.path.hasSuffix("/") ? request.path : request.path + "/"
                let items = names.map { "<li><a href=\"\(base)\(Self.escapeHTML($0))\">\(Self.escapeHTML($0))</a></li>" }
                var response = HTTPResponse.text("<!doctype html><title>\(Self.escapeHTML(base))</title><ul>\(items.joined())</ul>\n")
                response.fields = HTTPFields(["Content-Type": "text/html; charset=utf-8"])
                return response
            }
            return try Self.fileResponse(file)
        }
    }

    static func fileResponse(_ file: URL) throws -> HTTPResponse {
        let fields = HTTPFields(["Content-Type": contentType(file.pathExtension)])
        let size = (try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int) ?? 0
        if size > 1 << 20 {
            guard FileManager.default.isReadableFile(atPath: file.path) else { throw HTTPError(status: 403) }
            let path = file.path
            return .stream(fields: fields) { writer in
                guard let handle = FileHandle(forReadingAtPath: path) else { return }
                defer { try? handle.close() }
                while let piece = try handle.read(upToCount: 64 * 1024), !piece.isEmpty {
                    try await writer.write(Array(piece))
                }
            }
        }
        guard let data = FileManager.default.contents(atPath: file.path) else { throw HTTPError(status: 403) }
        return HTTPResponse(status: 200, fields: fields, body: .bytes(Array(data)))
    }

    static func contentType(_ pathExtension: String) -> String {
        switch pathExtension.lowercased() {
        case "html", "htm": "text/html; charset=utf-8"
        case "txt", "md": "text/plain; charset=utf-8"
        case "css": "text/css"
        case "js": "text/javascript"
        case "json": "application/json"
        case "png": "image/png"
        case "jpg", "jpeg": "image/jpeg"
        case "svg": "image/svg+xml"
        case "pdf": "application/pdf"
        default: "application/octet-stream"
        }
    }

    static func escapeHTML(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

/// The routes of `netlab serve http`: a hello-world for load tests and an echo for labs.
public enum LabRoutes {
    public static func install(into router: inout Router) {
        router.get("/hello") { _ in .text("Hello, World!") }
        router.post("/echo") { request in
            var fields = HTTPFields()
            if let type = request.fields["Content-Type"] { try? fields.append(name: "Content-Type", value: type) }
            return HTTPResponse(status: 200, fields: fields, body: .bytes(request.body))
        }
        router.get("/echo") { request in
            var text = "\(request.method) \(request.target) \(request.head.version)\n"
            for (name, value) in request.fields { text += "\(name): \(value)\n" }
            if let remote = request.remoteAddress { text += "\n(from \(remote))\n" }
            return .text(text)
        }
    }
}
