// Each step runs in a process of its own — the runner's child, `lab step ID` — so a crash or a
// hang in the student's code is reported as what it is, with where it happened, and never ends
// the run. The child says before each attempt what it is trying (LabAttempt); when it crashes
// or hangs, the parent reports that last attempt, and for a crash the first frame of the
// backtrace that lies in a lab file.
import Foundation
import NetLabConformance
import TCPSocket

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How one step ended.
enum StepVerdict: Equatable {
    case passed
    /// A check failed (its message), or the step could not finish (crash, hang: the report).
    case failed(String)

    var passed: Bool { self == .passed }
}

/// What the child writes in its result file: the first line is the kind.
enum StepResultKind: String {
    case pass, fail, hung
}

// MARK: The child

/// Where the child writes its verdict, and the nonce that proves the checker wrote it: read from
/// standard input before the step starts (never in the arguments or the environment, which the
/// student's code could read), after which standard input is at its end.
struct ResultChannel: Sendable {
    let path: String
    let nonce: String
    /// The verdict is written once: by the step, or by the timer that declares it hung.
    let written = Locked(false)

    func write(_ kind: StepResultKind, _ message: String) {
        guard written.withLock({ let was = $0; $0 = true; return !was }) else { return }
        _ = FileManager.default.createFile(atPath: path, contents: Data((nonce + "\n" + kind.rawValue + "\n" + message).utf8))
    }
}

/// `lab step ID`: runs one step and writes its verdict where the parent said.
func runStep(_ id: String) async -> Int32 {
    guard let path = readLine(), let nonce = readLine(), !path.isEmpty, !nonce.isEmpty else {
        print(say("`lab step` is run by `lab check`, which says where the verdict goes", "`lab step` dijalankan oleh `lab check`, yang menentukan ke mana vonisnya ditulis"))
        return 2
    }
    let channel = ResultChannel(path: path, nonce: nonce)
    guard let step = suites().map(\.suite).flatMap(\.steps).first(where: { $0.id == id }) else {
        channel.write(.fail, "no step \(id)")
        return 2
    }
    // The limit is kept by a plain timer, not a task: a student's loop that never awaits can
    // not be cancelled, but this still writes the verdict and ends the process.
    DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(Int(step.limit.components.seconds))) {
        channel.write(.hung, "")
        finish()
    }
    do {
        try await step.run()
        channel.write(.pass, "")
    } catch let failure as LabFailure {
        channel.write(.fail, failure.render(language))
    } catch {
        channel.write(.fail, say("your code threw an error: ", "kode Anda melempar error: ") + "\(error)")
    }
    // Threads of a failed step may still be blocked, and exit handlers may trip over them: end
    // the process now, what it printed flushed.
    finish()
}

/// Ends the step's process at once (no exit handlers), its output flushed.
func finish() -> Never {
    fflush(nil)
    _exit(0)
}

// MARK: The parent

/// Runs one step in a child process.
func runChild(_ step: LabStep) -> StepVerdict {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-lab-\(UUID().uuidString)").path
    let resultFile = scratch + ".result", attemptFile = scratch + ".attempt"
    defer {
        try? FileManager.default.removeItem(atPath: resultFile)
        try? FileManager.default.removeItem(atPath: attemptFile)
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Bundle.main.executablePath ?? CommandLine.arguments[0])
    process.arguments = ["step", step.id, "--lang", language.rawValue]
    let nonce = UUID().uuidString
    var environment = ProcessInfo.processInfo.environment
    // The runtime's backtracer, without registers and images, as text: its frames name the file
    // and line of the student's code.
    environment["SWIFT_BACKTRACE"] = "enable=yes,interactive=no,color=no,threads=crashed,registers=none,images=none,limit=48,sanitize=no"
    environment[LabAttempt.environmentVariable] = attemptFile
    process.environment = environment
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    // The verdict's path and nonce, then the end: a readLine() in the student's code gets nil.
    let input = Pipe()
    process.standardInput = input
    let collected = OutputCollector()
    output.fileHandleForReading.readabilityHandler = { handle in collected.append(handle.availableData) }
    do { try process.run() } catch { return .failed(say("could not start a step: ", "langkah tidak bisa dimulai: ") + "\(error)") }
    input.fileHandleForWriting.write(Data((resultFile + "\n" + nonce + "\n").utf8))
    try? input.fileHandleForWriting.close()
    // The child keeps its own limit; this one is for a child that cannot even do that (and
    // leaves the backtracer time to write).
    let deadline = Date().addingTimeInterval(Double(step.limit.components.seconds) + 20)
    while process.isRunning && Date() < deadline { usleep(20_000) }
    var killed = false
    if process.isRunning {
        process.terminate()
        let grace = Date().addingTimeInterval(2)
        while process.isRunning && Date() < grace { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        killed = true
    }
    output.fileHandleForReading.readabilityHandler = nil
    collected.append(output.fileHandleForReading.readDataToEndOfFile())
    let report = ChildOutput(collected.text)
    let attempt = LabAttempt.last(in: attemptFile).map { "\n" + say("while trying: ", "saat mencoba: ") + $0(language) } ?? ""
    // The verdict counts only with the nonce this parent gave: a file the student's code wrote
    // itself (to look like a pass) does not.
    let written = try? String(contentsOfFile: resultFile, encoding: .utf8)
    let lines = written?.split(separator: "\n", maxSplits: 2, omittingEmptySubsequences: false).map(String.init) ?? []
    let forged = written != nil && lines.first != nonce
    let kind = forged || lines.count < 2 ? nil : StepResultKind(rawValue: lines[1])
    let result: String? = kind == nil ? nil : (lines.count > 2 ? lines[2] : "")
    if forged {
        return .failed(say("the step's verdict was not written by the checker: something in your code wrote its result file",
                           "vonis langkah ini tidak ditulis oleh pemeriksa: ada kode Anda yang menulis berkas hasilnya"))
    }

    if kind == .hung || (killed && kind == nil) {
        return .failed(say("the step did not finish within \(step.limit.components.seconds) s", "langkah ini tidak selesai dalam \(step.limit.components.seconds) detik")
            + attempt + report.printedSection
            + "\n" + say("hint: something in your code waits forever (a read without an end, a loop that never exits)",
                         "petunjuk: ada bagian kode Anda yang menunggu selamanya (read tanpa akhir, loop yang tidak pernah selesai)"))
    }
    if kind == nil && (process.terminationReason == .uncaughtSignal || report.fatalError != nil) {
        let signal = process.terminationReason == .uncaughtSignal ? process.terminationStatus : SIGILL
        var text = say("your code crashed (signal \(signal): \(String(cString: strsignal(signal))))", "kode Anda crash (sinyal \(signal): \(String(cString: strsignal(signal))))")
        if let fatal = report.fatalError { text += "\n" + fatal }
        if let frame = report.studentFrame { text += "\n" + say("in your code: ", "di kode Anda: ") + frame }
        text += attempt + report.printedSection
        if report.studentFrame == nil {
            text += "\n" + say("hint: an index out of range, a force-unwrapped nil or a fatalError stops the program",
                               "petunjuk: indeks di luar jangkauan, nil yang di-force-unwrap, atau fatalError menghentikan program")
        }
        return .failed(text)
    }
    guard let result, let kind else {
        return .failed(say("the step ended without a result (exit status \(process.terminationStatus))", "langkah berakhir tanpa hasil (status keluar \(process.terminationStatus))")
            + attempt + report.printedSection)
    }
    switch kind {
    case .pass: return .passed
    case .fail, .hung: return .failed(result)
    }
}

/// A step process's output, read for the parts a student needs: what they printed, the
/// runtime's reason for stopping ("Fatal error: …"), and the first backtrace frame in a lab file.
struct ChildOutput {
    let lines: [Substring]

    init(_ text: String) { lines = text.split(separator: "\n", omittingEmptySubsequences: false) }

    /// Where the backtracer's report starts (nothing after it was printed by the student).
    var backtraceStart: Int { lines.firstIndex { $0.hasPrefix("*** ") || $0.contains("Fatal error") } ?? lines.count }

    /// "Parser.swift:40: Fatal error: Unexpectedly found nil …" (the runtime's own line).
    var fatalError: String? { lines.first { $0.contains("Fatal error") }.map { String($0) } }

    /// "lab2-http-parsing/Parser.swift:40:17, in StudentParser.nextEvent()": the innermost frame
    /// in one of the labs' folders.
    var studentFrame: String? {
        for line in lines[backtraceStart...] {
            guard let at = line.range(of: " at /", options: .backwards) else { continue }
            let location = line[at.upperBound...]
            guard let lab = location.range(of: #"/lab[1-5]-[a-z-]+/"#, options: .regularExpression) else { continue }
            let file = location[location.index(after: lab.lowerBound)...]
            // "3 [ra] 0x0000… StudentParser.nextEvent() + 88 in lab at /…": the function is
            // between the address and the offset.
            var function = ""
            if let address = line.range(of: #"0x[0-9a-f]+ "#, options: .regularExpression),
               let offset = line.range(of: #" \+ \d+ in "#, options: .regularExpression), address.upperBound < offset.lowerBound {
                function = say(", in ", ", di ") + line[address.upperBound..<offset.lowerBound]
            }
            return String(file) + function
        }
        return nil
    }

    /// The last lines the student printed (at most 15), under a heading; empty if none.
    var printedSection: String {
        let printed = lines[..<backtraceStart].suffix(15).joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
        return printed.isEmpty ? "" : "\n" + say("its last output:\n", "keluaran terakhirnya:\n") + printed
    }
}

/// A process's output, the last `limit` bytes of it (a print in an endless loop must not fill
/// memory).
final class OutputCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    private let limit: Int

    init(limit: Int = 65536) { self.limit = limit }

    func append(_ more: Data) {
        lock.withLock {
            data.append(more)
            if data.count > limit { data = data.suffix(limit) }
        }
    }
    var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
}
