import Foundation
import HTTPParser
import TCPSocket

/// A sentence in the two languages of the course: English and Bahasa Indonesia (technical terms
/// stay recognisable in both).
public struct LabText: Sendable, Hashable {
    public var en: String
    public var id: String

    public init(en: String, id: String) {
        self.en = en
        self.id = id
    }

    public func callAsFunction(_ language: LabLanguage) -> String { language == .id ? id : en }
}

public enum LabLanguage: String, Sendable, CaseIterable {
    case en, id
}

/// Why a step failed, written for the student who reads only this: what was expected, what
/// happened, the rule (RFC section) where one applies, and the exact bytes when bytes matter.
public struct LabFailure: Error, Sendable {
    public var message: LabText
    /// The evidence: escaped bytes with the offending one marked, expected vs got — labelled in
    /// the student's language; the bytes, events and the parser's RFC wording stay as they are.
    public var detail: LabText?
    /// A hint on what to look at next.
    public var hint: LabText?

    /// A failure whose evidence reads the same in every language (bytes, an RFC error).
    public init(_ message: LabText, detail: String? = nil, hint: LabText? = nil) {
        self.init(message, evidence: detail.map { LabText(en: $0, id: $0) }, hint: hint)
    }

    /// A failure whose evidence has words around it, in each language.
    public init(_ message: LabText, evidence: LabText?, hint: LabText? = nil) {
        self.message = message
        self.detail = evidence
        self.hint = hint
    }

    public func render(_ language: LabLanguage) -> String {
        var lines = [message(language)]
        if let detail { lines.append(detail(language)) }
        if let hint { lines.append((language == .id ? "petunjuk: " : "hint: ") + hint(language)) }
        return lines.joined(separator: "\n")
    }

    /// The starter code's answer: the function is still to be written.
    public static func notImplemented(_ function: String, step: String) -> LabFailure {
        LabFailure(LabText(en: "\(function) is not written yet (see item \(step) of \"What you build\" in the handout)",
                           id: "\(function) belum ditulis (lihat butir \(step) bagian \"Yang Anda bangun\" di modul)"))
    }
}

/// One numbered check of a lab ("2.3"), independent of the others: its own sockets, servers
/// and deadlines. It passes by returning and fails by throwing (a ``LabFailure`` when it can
/// say why; anything else is reported as it is).
public struct LabStep: Sendable {
    public var id: String
    public var title: LabText
    /// The most this step may take before it counts as hanging.
    public var limit: Duration
    public var run: @Sendable () async throws -> Void

    public init(_ id: String, _ title: LabText, limit: Duration = .seconds(20), run: @escaping @Sendable () async throws -> Void) {
        self.id = id
        self.title = title
        self.limit = limit
        self.run = run
    }
}

/// A lab's checks, in order.
public struct LabSuite: Sendable {
    public var number: Int
    public var name: LabText
    public var steps: [LabStep]
    /// Said before the steps (e.g. a step skipped because its data is not on this machine).
    public var notes: [LabText]

    public init(number: Int, name: LabText, steps: [LabStep], notes: [LabText] = []) {
        self.number = number
        self.name = name
        self.steps = steps
        self.notes = notes
    }
}

/// Runs blocking code (a student's blocking socket calls) on a thread of its own, so the
/// cooperative pool never waits on it; throws a ``LabFailure`` if it takes longer than `limit`
/// (the thread is then abandoned: the lab runner runs each step in a process of its own).
public func runBlocking<T: Sendable>(limit: Duration, what: LabText, _ body: @escaping @Sendable () throws -> T) async throws -> T {
    let box = ResultBox<T>()
    let thread = Thread { box.finish(Result { try body() }) }
    thread.start()
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if let result = box.result { return try result.get() }
        try await Task.sleep(for: .milliseconds(5))
    }
    if let result = box.result { return try result.get() }
    let seconds = limit.components.seconds
    throw LabFailure(LabText(en: "\(what.en) did not finish within \(seconds) s", id: "\(what.id) tidak selesai dalam \(seconds) detik"),
                     hint: LabText(en: "something waits forever: a read that never gets its bytes, or a peer waiting for you to close",
                                   id: "ada yang menunggu selamanya: read yang tidak pernah mendapat byte, atau lawan bicara yang menunggu Anda menutup"))
}

private final class ResultBox<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Result<T, any Error>?
    var result: Result<T, any Error>? { lock.withLock { stored } }
    func finish(_ result: Result<T, any Error>) { lock.withLock { stored = result } }
}

/// Deterministic bytes for checks (SplitMix64): the same seed, the same bytes, on every machine
/// (each 64-bit draw gives eight bytes, least significant first).
public func labBytes(count: Int, seed: UInt64) -> [UInt8] {
    var random = SplitMix64(seed: seed)
    // Written a word at a time: the checks ask for up to 32 MiB, and a byte-at-a-time append
    // in a debug build holds a thread for seconds (the tests' few shared threads among them).
    return [UInt8](unsafeUninitializedCapacity: max(count, 0)) { buffer, initialized in
        let raw = UnsafeMutableRawBufferPointer(buffer)
        var offset = 0
        while offset + 8 <= count {
            raw.storeBytes(of: random.next().littleEndian, toByteOffset: offset, as: UInt64.self)
            offset += 8
        }
        var last = random.next()
        while offset < count {
            raw[offset] = UInt8(truncatingIfNeeded: last)
            last >>= 8
            offset += 1
        }
        initialized = max(count, 0)
    }
}

/// Where two byte strings first differ, with both shown from a little before that byte, for
/// "expected … got …" messages.
func firstDifference(_ expected: [UInt8], _ got: [UInt8]) -> LabText {
    let common = min(expected.count, got.count)
    let index = (0..<common).first { expected[$0] != got[$0] } ?? common
    let start = max(0, index - 16)
    func window(_ bytes: [UInt8]) -> String {
        (start > 0 ? "…" : "") + HTTPEventRendering.escaped(Array(bytes[min(start, bytes.count)...].prefix(48)), limit: 48)
            + (bytes.count > start + 48 ? "…" : "")
    }
    let bytes = """
        \(window(expected))
        \(window(got))
        """
    return LabText(en: "expected \(expected.count) bytes, got \(got.count); first difference at byte \(index); from byte \(start), expected then got:\n" + bytes,
                   id: "diharapkan \(expected.count) byte, diterima \(got.count); beda pertama di byte \(index); mulai byte \(start), yang diharapkan lalu yang diterima:\n" + bytes)
}
