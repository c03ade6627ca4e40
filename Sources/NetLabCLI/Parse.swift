import ArgumentParser
import Foundation
import HTTPParser

/// `netlab parse request|response [FILE]`: raw bytes in, the parser's events (or its error,
/// with the offending byte marked) out — for students, and for comparing with other parsers.
struct Parse: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Parse raw HTTP/1.1 bytes and print the events, or the error with its byte offset and rule.",
        discussion: """
            Reads FILE, or standard input when FILE is omitted or "-". Example:
              printf 'GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n' | netlab parse request
            Exit status: 0 when the input parsed, 1 when the parser rejected it.
            """)

    enum Kind: String, ExpressibleByArgument {
        case request, response
    }

    @Argument(help: "What the bytes are: request or response.")
    var kind: Kind

    @Argument(help: "A file of raw bytes (default: standard input).")
    var file: String?

    @Flag(help: "Print JSON (one object with events and error) instead of text.")
    var json = false

    @Flag(help: "Accept a lone LF as a line ending (a named leniency; see docs/HTTP-PARSER.md).")
    var allowBareLF = false

    @Flag(help: "Accept obsolete line folding, replacing it with a space.")
    var allowObsFold = false

    @Option(help: "For responses: the method of the request they answer (HEAD responses have no body).")
    var requestMethod: String?

    @Flag(help: "Treat the end of the input as the peer closing the connection.")
    var endOfStream = false

    func run() throws {
        let data: Data
        if let file, file != "-" {
            guard let contents = FileManager.default.contents(atPath: file) else {
                throw ValidationError("cannot read \(file)")
            }
            data = contents
        } else {
            data = FileHandle.standardInput.readDataToEndOfFile()
        }
        let input = [UInt8](data)
        var options: HTTPParserOptions = []
        if allowBareLF { options.insert(.allowBareLF) }
        if allowObsFold { options.insert(.allowObsoleteLineFolding) }
        var parser = HTTPMessageParser(parsing: kind == .request ? .requests : .responses, options: options)
        if let requestMethod {
            guard let method = HTTPMethod(validating: requestMethod) else {
                throw ValidationError("\(requestMethod) is not a method token")
            }
            parser.expectResponse(to: method)
        }
        parser.receive(input)
        if endOfStream { parser.receiveEndOfStream() }
        var events: [HTTPEvent] = []
        var failure: HTTPParseError?
        do {
            while let event = try parser.nextEvent() { events.append(event) }
        } catch {
            failure = error
        }
        events = HTTPEventRendering.normalized(events)
        if json {
            print(try jsonReport(events, failure))
        } else {
            for (i, event) in events.enumerated() { print("\(i + 1). \(HTTPEventRendering.describe(event))") }
            if events.isEmpty && failure == nil { print("(no complete event: the parser needs more bytes)") }
            if let failure {
                print("error: \(failure)")
                print(HTTPEventRendering.caret(input, at: failure.offset))
            } else if parser.bufferedByteCount > 0 {
                print("(\(parser.bufferedByteCount) bytes wait for the rest of a message)")
            }
        }
        if failure != nil { throw ExitCode(1) }
    }

    private func jsonReport(_ events: [HTTPEvent], _ failure: HTTPParseError?) throws -> String {
        func fields(_ f: HTTPFields) -> [[String]] { f.map { [$0.name, $0.value] } }
        let list: [[String: Any]] = events.map { event in
            switch event {
            case .requestHead(let h):
                return ["event": "requestHead", "method": h.method.rawValue, "target": h.target,
                        "version": h.version.description, "fields": fields(h.fields), "keepAlive": h.keepAlive,
                        "expectsContinue": h.expectsContinue]
            case .responseHead(let h):
                return ["event": "responseHead", "status": h.status, "reason": h.reason, "version": h.version.description,
                        "fields": fields(h.fields), "keepAlive": h.keepAlive]
            case .body(let bytes):
                return ["event": "body", "length": bytes.count, "text": String(decoding: bytes, as: UTF8.self)]
            case .trailers(let f):
                return ["event": "trailers", "fields": fields(f)]
            case .endOfMessage:
                return ["event": "endOfMessage"]
            case .upgrade(let rest):
                return ["event": "upgrade", "remainingLength": rest.count]
            }
        }
        var report: [String: Any] = ["events": list]
        if let failure {
            report["error"] = ["summary": failure.summary, "offset": failure.offset, "rule": failure.rule, "status": failure.status]
        }
        let data = try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }
}
