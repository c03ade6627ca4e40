import ArgumentParser
import Foundation
import LabNetwork
import NetLabDemo
import PaymentFlow

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension DemoScenario: ExpressibleByArgument {}

/// `netlab demo`: a payment crossing the network, step by step, every layer shown. The
/// scenario runs live (all actors in this process, on loopback); each step is printed as it
/// happens — or, on a terminal, one at a time: Enter for the next, `w` for its wiretap.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Play a payment across customer, merchant, gateway, fraud service and bank, layer by layer.",
        discussion: """
            On a terminal: Enter = next step, w = wiretap of this step (the message below TLS and \
            above it), c = continue to the end, q = quit. Piped, or with --no-pause, the whole \
            story is printed. Exit status 0 when the scenario's story happened as expected.
            """)

    @Option(help: "The story to play (see --list).")
    var scenario: DemoScenario = .cardAccept

    @Flag(help: "List the scenarios and exit.")
    var list = false

    @Flag(name: .customLong("no-pause"), help: "Print the whole story without waiting for keys.")
    var noPause = false

    @Flag(help: "Run without TLS: the wiretap then shows the card number and server key as any eavesdropper reads them.")
    var plaintext = false

    @Flag(help: "Print the wiretap (hex + ASCII, below and above TLS) under every message.")
    var wiretap = false

    @Option(help: "Write a Mermaid sequence diagram of the run to this Markdown file.")
    var trace: String?

    @Option(help: "Write the TLS secrets of every connection to this file (NSS key log, for Wireshark).")
    var keylog: String?

    @Flag(help: "Print the steps as JSON, one object per line (for tools).")
    var json = false

    @Flag(help: "Play it across the lab network: every actor on a host of its own (network namespaces; needs root, else loopback). Answers show TCP_INFO.")
    var net = false

    @OptionGroup(title: "The lab network's links (with --net)") var impairments: Net.Impairments

    @Option(help: "With --net: capture a host's interface into this pcap file (the TLS key log goes beside it, FILE.keylog, unless --keylog says where).")
    var pcap: String?

    @Option(help: "The host --pcap captures: customer, merchant, gateway or bank.")
    var pcapHost: String = "customer"

    @Option(help: "The prefix of the namespaces --net makes (so several runs, or a network built with `netlab net up`, never meet).")
    var netPrefix = "nldemo"

    mutating func run() async throws {
        if list {
            for scenario in DemoScenario.allCases { print("\(scenario.rawValue.padding(toLength: 16, withPad: " ", startingAt: 0)) \(scenario.summary)") }
            return
        }
        let terminal = isatty(STDOUT_FILENO) == 1
        let interactive = !noPause && !json && terminal && isatty(STDIN_FILENO) == 1
        let style = DemoStyle(colour: terminal && !json && ProcessInfo.processInfo.environment["NO_COLOR"] == nil, width: Self.width(),
                              cutsLines: terminal)
        var options = DemoOptions(scenario: scenario, plaintext: plaintext)
        if let keylog { options.keyLog = try Self.keyLogWriter(keylog) }
        // The lab network for this run only (a prefix of its own, so a network built by hand
        // with `netlab net up` is left alone), removed again at the end.
        var labNetwork: NamespaceNetwork?
        var router: LinkEmulator?
        let perHost = try impairments.perHost()
        if !perHost.isEmpty && !net { throw ValidationError("link impairments apply to the lab network: add --net") }
        if pcap != nil && !net { throw ValidationError("--pcap captures a host of the lab network: add --net") }
        guard let captured = Topology.Host(rawValue: pcapHost) else { throw LabNetworkError.unknownHost(pcapHost) }
        var capture: PacketCapture?
        var claim: PrefixLock?
        // Cleaning up is arranged before anything is built: a failure halfway (a capture file
        // that cannot be written, an interface that refuses a setting) leaves nothing behind.
        defer {
            if let capture, let frames = try? capture.stop() {
                FileHandle.standardError.write(Data("captured \(frames) frames of \(pcapHost)'s eth0 into \(capture.path) (TLS keys: \(keylog ?? capture.path + ".keylog"))\n".utf8))
            }
            router?.stop()
            _ = try? labNetwork?.down()
            _ = claim  // released last, once the namespaces are gone
        }
        if net {
            if NamespaceNetwork.isPermitted {
                let network = NamespaceNetwork(topology: try Topology(prefix: netPrefix))
                claim = try network.claim()
                // The capture's key log is opened first: a path that cannot be written stops the
                // run before any namespace exists.
                if let pcap, keylog == nil { options.keyLog = try Self.keyLogWriter(pcap + ".keylog") }
                labNetwork = network
                try network.up()
                options.network = network.topology
                // NetLab's router forwards (the links' impairments, and the network stories' changes).
                let emulator = try LinkEmulator(topology: network.topology, impairments: perHost, seed: impairments.seed)
                router = emulator
                try emulator.start()
                options.router = emulator
                if let pcap {
                    capture = try PacketCapture(interface: Topology.hostInterface, in: network.topology.namespace(of: captured), to: pcap)
                }
            } else {
                let dropped = perHost.isEmpty && pcap == nil ? "" : " (without it, no link impairments and no --pcap)"
                FileHandle.standardError.write(Data("--net: \(LabNetworkError.notPermitted)\nPlaying on loopback instead\(dropped).\n".utf8))
            }
        }

        let (stream, continuation) = AsyncStream<DemoStep>.makeStream()
        let recorder = DemoRecorder { continuation.yield($0) }
        let runner = Task {
            let result = await DemoRunner.run(options, recorder: recorder)
            continuation.finish()
            return result
        }
        var pausing = interactive
        var keys = interactive ? KeyReader() : nil
        // Ctrl-C, Ctrl-Z or a kill while the terminal is in raw mode: put it back first.
        let restorer = keys.map { TerminalRestorer(saved: $0.saved) }
        defer { keys?.restore() }
        var quitAt: Int?
        narration: for await step in stream {
            if json {
                print(String(decoding: try JSONEncoder.lines.encode(step), as: UTF8.self))
                continue
            }
            print(DemoText.render(step, style: style))
            if wiretap, step.wire != nil { print(DemoText.wiretap(step, style: style)) }
            while pausing {
                print(style.colour ? "\u{1B}[2m  [Enter] next  [w] wiretap  [c] continue  [q] quit\u{1B}[0m" : "  [Enter] next  [w] wiretap  [c] continue  [q] quit")
                fflush(nil)
                switch await keys!.next() {
                case "w", "W": print(DemoText.wiretap(step, style: style))
                case "c", "C": pausing = false
                case "q", "Q", nil:
                    quitAt = step.number
                    break narration
                default: break  // Enter (or any other key): the next step
                }
                if ["w", "W"].contains(keys!.last) { continue }
                break
            }
        }
        keys?.restore()
        restorer?.cancel()
        if let quitAt {
            runner.cancel()
            _ = await runner.value
            print("stopped at step \(quitAt) (q)")
            return
        }
        let result = await runner.value
        let steps = recorder.steps
        if let trace {
            try DemoTrace.mermaid(steps, title: "netlab demo --scenario \(scenario.rawValue)").write(toFile: trace, atomically: true, encoding: .utf8)
        }
        if json {
            struct Summary: Encodable { var kind = "result"; var scenario: String; var succeeded: Bool; var summary: String; var steps: Int }
            print(String(decoding: try JSONEncoder.lines.encode(
                Summary(scenario: scenario.rawValue, succeeded: result.succeeded, summary: result.summary, steps: steps.count)), as: UTF8.self))
        } else {
            print("\n" + (result.succeeded ? "✔ " : "✘ ") + result.summary)
            if let trace { print("sequence diagram written to \(trace)") }
            if let keylog { print("TLS key log written to \(keylog) (Wireshark: Preferences → Protocols → TLS → (Pre)-Master-Secret log filename)") }
        }
        if !result.succeeded {
            FileHandle.standardError.write(Data("netlab demo: \(result.summary)\n".utf8))
            throw ExitCode(1)
        }
    }

    /// The terminal's width (TIOCGWINSZ), else $COLUMNS, else 100.
    static func width() -> Int {
        var size = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return Int(ProcessInfo.processInfo.environment["COLUMNS"] ?? "") ?? 100
    }

    /// Appends key-log lines to `path`, created 0600 (the lines decrypt the session).
    static func keyLogWriter(_ path: String) throws -> @Sendable (String) -> Void {
        // Never through a symlink, and 0600 even if the file already existed: the lines decrypt
        // every connection of the run.
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ValidationError("cannot open \(path) for the key log: \(String(cString: strerror(errno)))") }
        guard fchmod(fd, 0o600) == 0 else {
            close(fd)
            throw ValidationError("cannot make \(path) private (0600): \(String(cString: strerror(errno)))")
        }
        return { line in
            let bytes = Array((line + "\n").utf8)
            _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        }
    }
}

extension JSONEncoder {
    /// Compact, sorted: one stable line per object.
    static var lines: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}

/// Single key presses from the terminal (raw mode: no echo, no line buffering), read on a thread
/// of their own so the demo's tasks keep running; the terminal is restored afterwards.
struct KeyReader {
    private(set) var saved = termios()
    private(set) var last: String?

    init() {
        tcgetattr(STDIN_FILENO, &saved)
        var raw = saved
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO)
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        tcsetattr(STDIN_FILENO, TCSANOW, &raw)
    }

    /// The next key ("\n" for Enter); nil at end of input.
    mutating func next() async -> String? {
        let key: String? = await withCheckedContinuation { continuation in
            Thread {
                var byte: UInt8 = 0
                let n = read(STDIN_FILENO, &byte, 1)
                continuation.resume(returning: n == 1 ? String(UnicodeScalar(byte == 13 ? 10 : byte)) : nil)
            }.start()
        }
        last = key
        return key
    }

    func restore() {
        var saved = saved
        tcsetattr(STDIN_FILENO, TCSANOW, &saved)
    }
}

/// Restores the terminal's saved mode when SIGINT, SIGTERM or SIGTSTP arrives, then ends the
/// process as the signal would have (exit status 128 + signal number).
final class TerminalRestorer: @unchecked Sendable {
    private var sources: [any DispatchSourceSignal] = []

    init(saved: termios) {
        nonisolated(unsafe) var mode = saved
        for number in [SIGINT, SIGTERM, SIGTSTP] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                tcsetattr(STDIN_FILENO, TCSANOW, &mode)
                FileHandle.standardOutput.write(Data("\n".utf8))
                exit(128 + number)
            }
            source.resume()
            sources.append(source)
        }
    }

    func cancel() {
        for source in sources { source.cancel() }
        for number in [SIGINT, SIGTERM, SIGTSTP] { signal(number, SIG_DFL) }
    }
}
