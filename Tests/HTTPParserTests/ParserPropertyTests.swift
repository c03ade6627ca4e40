import HTTPParser
import NetLabConformance
import PropertyBased
import Testing

/// Properties over generated messages. A failure prints the input and a seed to replay it
/// with `.fixedSeed("…")`.
@Suite("HTTPParser properties", .timeLimit(.minutes(3)))
struct ParserPropertyTests {
    // MARK: Generators

    static let method = Gen.element(of: ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "X-CHARGE", "M.1~"])
        .map { HTTPMethod($0 ?? "GET") }
    static let token = Gen.letterOrNumber.string(of: 1...12)
    /// field-content: visible ASCII and obs-text with inner spaces; never empty edges.
    static let valueByte = Gen<UInt8>.value(in: 0x21...0xFF).filter { $0 != 0x7F }
    static let fieldValue = zip(valueByte.array(of: 0...24), Gen.int(in: 0...3)).map { bytes, spaces -> String in
        guard bytes.count > 1 else { return String(decoding: bytes, as: UTF8.self) }
        var withSpaces = bytes
        withSpaces.insert(contentsOf: repeatElement(0x20, count: spaces), at: bytes.count / 2)
        return String(decoding: withSpaces, as: UTF8.self)
    }.filter { $0.utf8.allSatisfy { $0 >= 0x20 } && $0.first != " " && $0.last != " " }
    static let fields = zip(token, fieldValue).array(of: 0...8).map { pairs -> [(String, String)] in
        pairs.map { ("X-" + $0.0, $0.1) }
    }
    static let body = Gen<UInt8>.value(in: 0...255).array(of: 0...700)
    /// Where to cut the serialized bytes (as distances between cuts).
    static let cuts = Gen.int(in: 1...97).array(of: 0...12)

    // MARK: Properties

    @Test("parse(serialize(request)) == request, for any split of the bytes")
    func requestRoundTrip() async {
        await propertyCheck(count: 300, input: Self.method, Self.token, Self.fields, Self.body, Gen.bool, Self.cuts) {
            method, path, fields, body, chunked, cuts in
            var head = HTTPRequestHead(method: method, target: "/" + path + "?q=" + path, fields: Self.makeFields(fields))
            if chunked { try? head.fields.append(name: "Transfer-Encoding", value: "chunked") }
            let bytes: [UInt8]
            do {
                bytes = try HTTPSerializer.request(head, body: body)
            } catch {
                Issue.record("serializer refused a valid message: \(error)")
                return
            }
            let outcome = Self.parse(bytes, kind: .requests, cuts: cuts)
            #expect(outcome.error == nil, "\(outcome)")
            guard case .requestHead(let parsed)? = outcome.events.first else {
                Issue.record("no request head: \(outcome)")
                return
            }
            #expect(parsed.method == head.method)
            #expect(parsed.target == head.target)
            for (name, value) in fields { #expect(parsed.fields.values(of: name).contains(value)) }
            #expect(Self.bodyBytes(outcome.events) == body)
            #expect(outcome.events.last == .endOfMessage)
        }
    }

    @Test("a serialized request parses the same at every single split point")
    func everySplitPoint() async {
        await propertyCheck(count: 40, input: Self.method, Self.fields, Self.body.map { Array($0.prefix(120)) }, Gen.bool) {
            method, fields, body, chunked in
            var head = HTTPRequestHead(method: method, target: "/every", fields: Self.makeFields(fields))
            if chunked { try? head.fields.append(name: "Transfer-Encoding", value: "chunked") }
            guard let bytes = try? HTTPSerializer.request(head, body: body) else {
                Issue.record("serializer refused a valid message")
                return
            }
            let whole = Self.parse(bytes, kind: .requests, cuts: [])
            #expect(whole.error == nil && whole.events.last == .endOfMessage, "\(whole)")
            for point in 1..<bytes.count {
                let split = Self.parse(bytes, kind: .requests, cuts: [point])
                if split != whole {
                    Issue.record("split at byte \(point) gives \(split), whole gives \(whole)")
                    return
                }
            }
        }
    }

    @Test("parse(serialize(response)) == response, chunked or not, for any split")
    func responseRoundTrip() async {
        await propertyCheck(count: 300, input: Gen.int(in: 200...599), Self.fields, Self.body, Gen.bool, Self.cuts) {
            status, fields, body, chunked, cuts in
            let bodiless = status == 204 || status == 304
            var head = HTTPResponseHead(status: status, fields: Self.makeFields(fields))
            if chunked && !bodiless { try? head.fields.append(name: "Transfer-Encoding", value: "chunked") }
            guard let bytes = try? HTTPSerializer.response(head, body: bodiless ? [] : body) else {
                Issue.record("serializer refused a valid response")
                return
            }
            let outcome = Self.parse(bytes, kind: .responses, cuts: cuts)
            #expect(outcome.error == nil, "\(outcome)")
            guard case .responseHead(let parsed)? = outcome.events.first else {
                Issue.record("no response head: \(outcome)")
                return
            }
            #expect(parsed.status == status)
            #expect(parsed.reason == head.reason)
            #expect(Self.bodyBytes(outcome.events) == (bodiless ? [] : body))
            #expect(outcome.events.last == .endOfMessage)
        }
    }

    @Test("chunked coding: any pieces encode and decode back to the same bytes")
    func chunkedRoundTrip() async {
        await propertyCheck(count: 300, input: Self.body.array(of: 0...10), Self.cuts) { pieces, cuts in
            var bytes = Array("POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
            for piece in pieces { HTTPSerializer.writeChunk(piece, into: &bytes) }
            HTTPSerializer.writeLastChunk(trailers: HTTPFields(["X-Sum": "\(pieces.count)"]), into: &bytes)
            let outcome = Self.parse(bytes, kind: .requests, cuts: cuts)
            #expect(outcome.error == nil, "\(outcome)")
            #expect(Self.bodyBytes(outcome.events) == pieces.flatMap { $0 })
            #expect(outcome.events.contains(.trailers(HTTPFields(["X-Sum": "\(pieces.count)"]))))
        }
    }

    @Test("arbitrary bytes end in events or an HTTPParseError — never a crash or a hang")
    func arbitraryBytes() async {
        await propertyCheck(count: 500, input: Gen<UInt8>.value(in: 0...255).array(of: 0...300), Self.cuts, Gen.bool) {
            bytes, cuts, responses in
            _ = Self.parse(bytes, kind: responses ? .responses : .requests, cuts: cuts, endOfStream: true)
        }
    }

    @Test("a valid message with one byte changed parses the same way however it is split")
    func mutatedMessages() async {
        let base = Array(
            "POST /v2/charge HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\nX-A: b\r\n\r\n4;x=y\r\nabcd\r\n0\r\nT: 1\r\n\r\n".utf8)
        await propertyCheck(count: 500, input: Gen.int(in: 0..<base.count), Gen<UInt8>.value(in: 0...255), Self.cuts) {
            position, byte, cuts in
            var bytes = base
            bytes[position] = byte
            let whole = Self.parse(bytes, kind: .requests, cuts: [])
            let split = Self.parse(bytes, kind: .requests, cuts: cuts)
            #expect(whole == split, "byte \(position) set to \(byte)")
        }
    }

    // MARK: Helpers

    static func makeFields(_ pairs: [(String, String)]) -> HTTPFields {
        var fields = HTTPFields()
        for (name, value) in pairs { try? fields.append(name: name, value: value) }
        return fields
    }

    static func bodyBytes(_ events: [HTTPEvent]) -> [UInt8] {
        events.flatMap { event -> [UInt8] in
            if case .body(let bytes) = event { return Array(bytes) }
            return []
        }
    }

    /// Feeds `bytes` cut after each distance in `cuts`, then (optionally) end-of-stream.
    static func parse(_ bytes: [UInt8], kind: HTTPMessageParser.Kind, cuts: [Int], endOfStream: Bool = false) -> ParserOutcome {
        var parser = HTTPMessageParser(parsing: kind)
        var events: [HTTPEvent] = []
        var start = 0
        var ends: [Int] = []
        for distance in cuts {
            let end = (ends.last ?? 0) + distance
            if end < bytes.count { ends.append(end) }
        }
        ends.append(bytes.count)
        do {
            for end in ends {
                parser.receive(bytes[start..<end])
                start = end
                while let event = try parser.nextEvent() {
                    events.append(event)
                    if events.count > 10_000 { Issue.record("more than 10,000 events from \(bytes.count) bytes") }
                    if events.count > 10_000 { return ParserOutcome(events: events) }
                }
            }
            if endOfStream {
                parser.receiveEndOfStream()
                while let event = try parser.nextEvent() { events.append(event) }
            }
        } catch {
            return ParserOutcome(events: events, error: error)
        }
        return ParserOutcome(events: events)
    }
}
