// Fuzz target: URL and form decoding — a client's `HTTPURL`, the server's split of a request
// target into path and query parameters, and the browser pages' form and JSON fields.
//
// The input's first line is a URL / request target, the rest a form body. Invariants: no
// crash or hang; a URL that parses prints as something that parses to the same URL.
import FuzzSupport
import HTTPParser
import NetLab
import PaymentFlow

func fuzzURLForm(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    let newline = input.firstIndex(of: 0x0A) ?? input.endIndex
    let line = String(decoding: input[..<newline], as: UTF8.self)
    let body = Array(input[min(newline + 1, input.endIndex)...])

    if let url = try? HTTPURL(line) {
        let again = try? HTTPURL(url.description)
        Oracle.require(again == url, "\(line) → \(url) → \(String(describing: again))")
    }
    var head = HTTPRequestHead(method: .post, target: line.isEmpty ? "/" : line)
    try? head.fields.append(name: "Content-Type", value: "application/x-www-form-urlencoded")
    let request = HTTPRequest(head: head, body: body)
    _ = request.path
    _ = request.queryParameters
    _ = BrowserRequest.fields(request)
    _ = BrowserRequest.isCrossSite(request)
    _ = BrowserRequest.origin(line)
    return 0
}
