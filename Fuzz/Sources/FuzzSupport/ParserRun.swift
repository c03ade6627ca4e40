import HTTPParser

/// What a parser made of one input: its events (body pieces joined, as the vector table
/// compares them) and the error it stopped with, if any.
public struct ParserRun: Equatable, CustomStringConvertible {
    public var events: [HTTPEvent]
    public var error: HTTPParseError?

    /// Feeds `pieces` to a fresh parser one after another, draining events after each piece,
    /// then (if asked) the end of the stream.
    ///
    /// The hang check: a parser may emit at most one head, one body piece and one end per
    /// byte it was given, plus a constant; more means it is looping without consuming input.
    public static func feed(
        _ pieces: [ArraySlice<UInt8>], to parser: HTTPMessageParser, endOfStream: Bool = false
    ) -> ParserRun {
        var parser = parser
        var events: [HTTPEvent] = []
        let total = pieces.reduce(0) { $0 + $1.count }
        let bound = 3 * total + 16
        func drain() throws(HTTPParseError) {
            while let event = try parser.nextEvent() {
                events.append(event)
                Oracle.require(events.count <= bound, "\(events.count) events from \(total) bytes: the parser loops")
                if case .upgrade = event { return }
            }
        }
        do throws(HTTPParseError) {
            for (index, piece) in pieces.enumerated() {
                parser.receive(piece)
                try drain()
                if case .upgrade(let remaining) = events.last {
                    // The bytes not fed yet belong to the new protocol too, as they would for
                    // the connection that owns the parser: whole or cut, the same bytes follow.
                    events[events.count - 1] = .upgrade(remaining: remaining + pieces[(index + 1)...].joined())
                    break
                }
            }
            if endOfStream, !isUpgraded(events) {
                parser.receiveEndOfStream()
                try drain()
            }
        } catch {
            return ParserRun(events: HTTPEventRendering.normalized(events), error: error)
        }
        return ParserRun(events: HTTPEventRendering.normalized(events), error: nil)
    }

    private static func isUpgraded(_ events: [HTTPEvent]) -> Bool {
        if case .upgrade = events.last { return true }
        return false
    }

    public var description: String {
        var lines = events.map { "  " + HTTPEventRendering.describe($0) }
        if let error { lines.append("  error: \(error)") }
        return lines.joined(separator: "\n")
    }

    /// The complete messages: each head with its body bytes and trailers.
    public var messages: [(head: HTTPEvent, body: [UInt8], trailers: HTTPFields?)] {
        var result: [(head: HTTPEvent, body: [UInt8], trailers: HTTPFields?)] = []
        var current: (head: HTTPEvent, body: [UInt8], trailers: HTTPFields?)?
        for event in events {
            switch event {
            case .requestHead, .responseHead: current = (event, [], nil)
            case .body(let bytes): current?.body += bytes
            case .trailers(let fields): current?.trailers = fields
            case .endOfMessage:
                if let done = current { result.append(done) }
                current = nil
            case .upgrade: break
            }
        }
        return result
    }
}
