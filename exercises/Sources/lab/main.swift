// `lab`: runs the labs' checks against your code, one step per process (a crash in your code is
// reported, never the end of the run), prints a progress table, and plays the payment demo with
// your layer plugged in. All checks live in NetLab's NetLabConformance library: the same code
// NetLab's own implementation passes in its tests.
import Foundation
import HTTPParser
import Lab1Sockets
import Lab2HTTPParsing
import Lab3HTTPServer
import Lab4TLS
import Lab5Webhooks
import NetLabConformance
import NetLabDemo
import PaymentFlow

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: Whose code is checked

#if NETLAB_REFERENCE
let mode = "reference"
let echo: any EchoLab = ReferenceEcho()
let makeParser: @Sendable (ParserConfiguration) -> AnyHTTPMessageParser = {
    AnyHTTPMessageParser(HTTPMessageParser(parsing: $0.kind, limits: $0.limits, options: $0.options))
}
let webhook: any WebhookHandling = ReferenceWebhookHandler()
let server: any HTTPConnectionServing = ReferenceHTTPConnection()
let tlsClient: any TLSClientWrapping = ReferenceTLSClient()
#else
let mode = "student"
let echo: any EchoLab = StudentEcho()
let makeParser: @Sendable (ParserConfiguration) -> AnyHTTPMessageParser = { AnyHTTPMessageParser(StudentParser($0)) }
let webhook: any WebhookHandling = StudentWebhook()
let server: any HTTPConnectionServing = StudentServer()
let tlsClient: any TLSClientWrapping = StudentTLSClient()
#endif

extension AnyHTTPMessageParser: @retroactive @unchecked Sendable {}

/// The labs in order; nil where the kit has no lab yet.
func suites() -> [(number: Int, name: LabText, suite: LabSuite?)] {
    [
        (1, SocketsLab.name, SocketsLab.suite(echo)),
        (2, ParsingLab.name, ParsingLab.suite(makeParser: makeParser)),
        (3, ServerLab.name, ServerLab.suite(server)),
        (4, TLSLab.name, TLSLab.suite(tlsClient)),
        (5, WebhooksLab.name, WebhooksLab.suite(webhook)),
    ]
}

// MARK: Arguments

let arguments = Array(CommandLine.arguments.dropFirst())
func option(_ name: String) -> String? {
    if let index = arguments.firstIndex(of: name), index + 1 < arguments.count { return arguments[index + 1] }
    if let inline = arguments.first(where: { $0.hasPrefix(name + "=") }) { return String(inline.dropFirst(name.count + 1)) }
    return nil
}
let requestedLanguage = option("--lang") ?? ProcessInfo.processInfo.environment["NETLAB_LANG"] ?? "en"
let language = LabLanguage(rawValue: requestedLanguage) ?? .en
let colour = isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
func paint(_ text: String, _ code: String) -> String { colour ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text }
func say(_ en: String, _ id: String) -> String { language == .id ? id : en }

func usage() -> Never {
    print(say("""
        usage: swift run lab check N [--lang en|id] [--step N.M]   run the checks of labs 1…N
               swift run lab demo [--http=student|reference] [--scenario NAME]
               swift run lab list
        """, """
        pemakaian: swift run lab check N [--lang en|id] [--step N.M]   jalankan pemeriksaan lab 1…N
                   swift run lab demo [--http=student|reference] [--scenario NAMA]
                   swift run lab list
        """))
    exit(2)
}

// MARK: One step, in this process (the runner's child)

/// `lab step ID --result FILE`: runs one step and writes "pass" or "fail\n<message>" to FILE.
func runStep(_ id: String, resultFile: String) async -> Int32 {
    guard let step = suites().compactMap(\.suite).flatMap(\.steps).first(where: { $0.id == id }) else {
        _ = FileManager.default.createFile(atPath: resultFile, contents: Data("fail\nno step \(id)".utf8))
        return 2
    }
    // The limit is kept by a plain timer, not a task: a student's loop that never awaits can
    // not be cancelled, but this still writes the verdict and ends the process.
    let seconds = step.limit.components.seconds
    DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(Int(seconds))) {
        let verdict = "fail\n" + say("the step did not finish within \(seconds) s", "langkah ini tidak selesai dalam \(seconds) detik") + "\n"
            + say("hint: something in your code waits forever (a read without an end, a loop that never exits)",
                  "petunjuk: ada bagian kode Anda yang menunggu selamanya (read tanpa akhir, loop yang tidak pernah selesai)")
        _ = FileManager.default.createFile(atPath: resultFile, contents: Data(verdict.utf8))
        _exit(0)
    }
    let outcome: String
    do {
        try await step.run()
        outcome = "pass"
    } catch let failure as LabFailure {
        outcome = "fail\n" + failure.render(language)
    } catch {
        outcome = "fail\n" + say("your code threw an error: ", "kode Anda melempar error: ") + "\(error)"
    }
    _ = FileManager.default.createFile(atPath: resultFile, contents: Data(outcome.utf8))
    // Threads of a failed step may still be blocked: end the process now.
    exit(0)
}

// MARK: The runner

/// Runs one step in a child process; returns (passed, message).
func runChild(_ step: LabStep) -> (Bool, String) {
    let resultFile = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-lab-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: resultFile) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Bundle.main.executablePath ?? CommandLine.arguments[0])
    process.arguments = ["step", step.id, "--result", resultFile, "--lang", language.rawValue]
    // The runtime's one-line reason ("Fatal error: Index out of range", file and line) instead of
    // a register dump.
    var environment = ProcessInfo.processInfo.environment
    environment["SWIFT_BACKTRACE"] = "enable=no"
    process.environment = environment
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    process.standardInput = FileHandle.nullDevice  // a readLine() in the student's code gets nil, not a wait
    let collected = OutputCollector()
    output.fileHandleForReading.readabilityHandler = { handle in collected.append(handle.availableData) }
    do { try process.run() } catch { return (false, "could not start a step: \(error)") }
    // The child keeps its own limit; this one is for a child that cannot even do that.
    let deadline = Date().addingTimeInterval(Double(step.limit.components.seconds) + 10)
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
    // What the student printed, up to the runtime's reason for stopping ("Fatal error: …",
    // with the file and line); the stack dump after it helps nobody in a lab.
    let lines = collected.text.split(separator: "\n", omittingEmptySubsequences: false)
    let printed = (lines.firstIndex { $0.contains("Fatal error") }.map { lines[max(0, $0 - 9)...$0] } ?? lines.suffix(15))
        .joined(separator: "\n")
    if killed, (try? String(contentsOfFile: resultFile, encoding: .utf8)) == nil {
        return (false, say("the step hung and was stopped", "langkah ini macet dan dihentikan")
                + (printed.isEmpty ? "" : "\n" + say("its last output:\n", "keluaran terakhirnya:\n") + printed))
    }
    if process.terminationReason == .uncaughtSignal && !killed {
        let signal = process.terminationStatus
        return (false, say("your code crashed (signal \(signal): \(String(cString: strsignal(signal))))", "kode Anda crash (sinyal \(signal): \(String(cString: strsignal(signal))))")
                + say(" — an index out of range, a force-unwrapped nil or a fatalError stops the program", " — indeks di luar jangkauan, nil yang di-force-unwrap, atau fatalError menghentikan program")
                + (printed.isEmpty ? "" : "\n" + say("its last output:\n", "keluaran terakhirnya:\n") + printed))
    }
    guard let result = try? String(contentsOfFile: resultFile, encoding: .utf8) else {
        return (false, say("the step ended without a result (exit status \(process.terminationStatus))", "langkah berakhir tanpa hasil (status keluar \(process.terminationStatus))")
                + (printed.isEmpty ? "" : "\n" + printed))
    }
    if result == "pass" { return (true, "") }
    return (false, String(result.dropFirst(5)))
}

/// The child's output, the last 64 KiB of it (a print in an endless loop must not fill memory).
final class OutputCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func append(_ more: Data) {
        lock.withLock {
            data.append(more)
            if data.count > 65536 { data = data.suffix(65536) }
        }
    }
    var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
}

func check(upTo last: Int, only: String?) -> Int32 {
    var table: [(Int, String, String)] = []
    var allPassed = true
    print(paint(say("NetLab labs — checking \(mode == "student" ? "your code" : "NetLab's reference") (labs 1…\(last))",
                    "Lab NetLab — memeriksa \(mode == "student" ? "kode Anda" : "implementasi acuan NetLab") (lab 1…\(last))"), "1"))
    for (number, name, suite) in suites() where number <= last {
        // `--step N.M`: only the lab that has it.
        if let only, suite?.steps.contains(where: { $0.id == only }) != true { continue }
        print("\n" + paint("Lab \(number) — \(name(language))", "1"))
        guard let suite else {
            print("   " + say("not in this kit yet", "belum ada di kit ini"))
            table.append((number, name(language), say("— not in the kit yet", "— belum tersedia")))
            continue
        }
        for note in suite.notes where only == nil { print("   " + note(language)) }
        var passed = 0
        for step in suite.steps where only == nil || step.id == only {
            let (ok, message) = runChild(step)
            if ok {
                passed += 1
                print(paint("✔", "32") + " \(step.id)  \(step.title(language))")
            } else {
                allPassed = false
                print(paint("✘", "31") + " \(step.id)  \(step.title(language))")
                for line in message.split(separator: "\n", omittingEmptySubsequences: false) { print("       \(line)") }
            }
        }
        let total = only == nil ? suite.steps.count : suite.steps.filter { $0.id == only }.count
        table.append((number, name(language), "\(passed)/\(total)" + (passed == total ? " ✔" : "")))
    }
    print("\n" + paint(say("Progress", "Kemajuan"), "1"))
    for (number, name, progress) in table {
        print("  \(number)  \(name.padding(toLength: 66, withPad: " ", startingAt: 0))  \(progress)")
    }
    return allPassed ? 0 : 1
}

// MARK: The demo with your layer

func demo() async -> Int32 {
    let which = option("--http") ?? "student"
    guard ["student", "reference"].contains(which) else {
        print(say("--http must be student or reference, not \(which)", "--http harus student atau reference, bukan \(which)"))
        return 2
    }
    guard let scenario = DemoScenario(rawValue: option("--scenario") ?? "card-accept") else {
        print(say("unknown scenario; the scenarios are: ", "skenario tidak dikenal; skenarionya: ") + DemoScenario.allCases.map(\.rawValue).joined(separator: " "))
        return 2
    }
    // Your parser runs inside every actor here: a loop in it would hang the demo, so it has a limit.
    DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(120)) {
        print(say("the demo did not finish within 2 minutes — is a parser loop going round without consuming input?",
                  "demo tidak selesai dalam 2 menit — apakah ada loop parser yang berputar tanpa mengonsumsi masukan?"))
        _exit(1)
    }
    var options = DemoOptions(scenario: scenario)
    if which == "student" {
        let make = makeParser
        options.httpParser = { kind, limits in make(ParserConfiguration(kind: kind, limits: limits)) }
    }
    print(paint(say("The payment demo with \(which == "student" ? "your" : "NetLab's") HTTP parser in every server and client",
                    "Demo pembayaran dengan parser HTTP \(which == "student" ? "Anda" : "NetLab") di setiap server dan klien"), "1"))
    let style = DemoStyle(colour: colour, width: Int(ProcessInfo.processInfo.environment["COLUMNS"] ?? "") ?? 100)
    let recorder = DemoRecorder { step in print(DemoText.render(step, style: style)) }
    let result = await DemoRunner.run(options, recorder: recorder)
    print("\n" + (result.succeeded ? "✔ " : "✘ ") + result.summary)
    return result.succeeded ? 0 : 1
}

// MARK: Main

guard let command = arguments.first else { usage() }
switch command {
case "check":
    guard arguments.count >= 2, let last = Int(arguments[1]), (1...5).contains(last) else { usage() }
    guard LabLanguage(rawValue: requestedLanguage) != nil else {
        print("--lang must be en or id (bahasa: en atau id), not \(requestedLanguage)")
        exit(2)
    }
    if let only = option("--step") {
        let known = suites().filter { $0.number <= last }.compactMap(\.suite).flatMap(\.steps).map(\.id)
        guard known.contains(only) else {
            print(say("no step \(only) in labs 1…\(last); the steps are: \(known.joined(separator: " "))",
                      "tidak ada langkah \(only) di lab 1…\(last); langkahnya: \(known.joined(separator: " "))"))
            exit(2)
        }
    }
    exit(check(upTo: last, only: option("--step")))
case "step":
    guard arguments.count >= 2, let file = option("--result") else { usage() }
    // Line by line, so what the student printed survives a crash. (The C global `stdout` is
    // looked up by name: Swift 6 refuses a direct reference to a mutable C global.)
    #if os(Linux)
    let stdoutSymbol = "stdout"
    #else
    let stdoutSymbol = "__stdoutp"
    #endif
    if let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, stdoutSymbol) {
        setvbuf(symbol.load(as: UnsafeMutablePointer<FILE>.self), nil, _IOLBF, 0)
    }
    exit(await runStep(arguments[1], resultFile: file))
case "demo":
    exit(await demo())
case "list":
    for (number, name, suite) in suites() {
        print("\(number)  \(name(language))" + (suite == nil ? say("  (not in the kit yet)", "  (belum tersedia)") : "  (\(suite!.steps.count) " + say("steps)", "langkah)")))
    }
default:
    usage()
}
