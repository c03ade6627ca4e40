import ArgumentParser
import Foundation
import PaymentFlow
import TCPSocket

/// `netlab serve all`: every service of the payment system in a process of its own, watched and
/// restarted — so one service dying (a crash, a kill, descriptors run out) never takes another
/// down, as a real deployment's separate machines would not.
///
/// Theory of operation:
/// - **Start.** The services start one at a time, in the order they depend on each other (the
///   bank and fraud service, then the notification service, the gateway, the shop), each as
///   `netlab serve ACTOR --supervised` with this command's own options (`--instances N` goes to
///   the gateway alone, which then runs as a ``GatewayCluster``). The next starts once the
///   last has said it is ready (``readyLine``): the first one makes the state folder's CA, keys and
///   SQLite files, and the others find them made. Then the supervisor prints what one process
///   printed before (the shop, each service's URL, the state folder, the CA, the merchant's keys)
///   and the process ids; afterwards each service's own lines (an access log, errors) pass
///   through.
/// - **Watch.** A service that exits while nobody asked it to is started again on the same state
///   after a ``RestartBackoff`` wait; the others keep serving meanwhile (the gateway answers 502 or
///   retries while the bank is away, as it would across a network).
/// - **Stop.** SIGINT or SIGTERM stops the shop first, then the gateway (each finishes the
///   requests in flight, which may still need what it calls), then the rest. The services
///   themselves ignore SIGINT (a terminal's Ctrl-C reaches the whole process group) and a
///   repeated SIGTERM: the supervisor alone decides. A second signal ends the supervisor at
///   once; its services see their lifeline close and stop within their grace period.
/// - **Orphans.** Each service reads its standard input, whose other end only the supervisor
///   holds: if the supervisor dies, even by SIGKILL, every service sees the end of the file and
///   shuts down — no service outlives its supervisor holding the ports.
struct ServiceSupervisor {
    /// The options to pass on, as given after `serve all`.
    let arguments: [String]

    /// The line a supervised service prints once it has said everything a start says.
    static let readyLine = "(supervised: ready)"

    /// Start order: what a service calls starts before it.
    static let startOrder: [PaymentActor] = [.bank, .fraud, .notification, .gateway, .merchant]
    /// Stop order, tier by tier: the front first, while what it calls still runs.
    static let stopTiers: [[PaymentActor]] = [[.merchant], [.gateway], [.notification, .fraud, .bank]]

    private enum Event: Sendable {
        case line(PaymentActor, String)
        case exited(PaymentActor, pid: Int32, Process.TerminationReason, Int32)
        case terminate
        case restart(PaymentActor)
    }

    /// One running service: its process and the pipe that tells it the supervisor lives.
    private struct Child {
        let process: Process
        let lifeline: Pipe
        let started: ContinuousClock.Instant
    }

    func run() async throws {
        let (events, sink) = AsyncStream<Event>.makeStream()
        let signals = Task {
            _ = await TerminationSignals.first()
            sink.yield(.terminate)
        }
        defer { signals.cancel() }

        var children: [PaymentActor: Child] = [:]
        var backoff: [PaymentActor: RestartBackoff] = [:]
        var lines: [PaymentActor: [String]] = [:]
        var iterator = events.makeAsyncIterator()

        // Start, one at a time; a service that exits before it is ready stops everything.
        for actor in Self.startOrder {
            children[actor] = try spawn(actor, sink)
            var ready = false
            while !ready, let event = await iterator.next() {
                switch event {
                case .line(let from, let text):
                    if text == Self.readyLine { ready = ready || from == actor } else { lines[from, default: []].append(text) }
                case .exited(let from, _, let reason, let status):
                    say("netlab serve \(from.rawValue) exited (\(Self.describe(reason, status))) before it was ready:")
                    for text in lines[from] ?? [] { say("  \(text)") }
                    children[from] = nil
                    await stop(&children, &iterator)
                    throw ExitCode.failure
                case .terminate:
                    await stop(&children, &iterator)
                    return
                case .restart:
                    break
                }
            }
        }
        printSummary(lines, children)

        // Watch until told to stop. A restarted service's start lines say nothing new.
        var stopping = false
        var restarting: Set<PaymentActor> = []
        while !stopping, let event = await iterator.next() {
            switch event {
            case .line(let actor, let text):
                if text == Self.readyLine {
                    if restarting.remove(actor) != nil { say("\(actor.rawValue) is serving again") }
                } else if !restarting.contains(actor) {
                    say(text)
                }
            case .exited(let actor, let pid, let reason, let status):
                guard let child = children[actor], child.process.processIdentifier == pid else { continue }
                children[actor] = nil
                restarting.remove(actor)
                let uptime = ContinuousClock.now - child.started
                let wait = backoff[actor, default: RestartBackoff()].next(afterUptime: uptime)
                say("\(actor.rawValue) died (\(Self.describe(reason, status))) after \(Self.seconds(uptime)); "
                    + "restarting it in \(Self.seconds(wait)), the other services keep running")
                Self.restart(actor, after: wait, sink)
            case .restart(let actor):
                guard children[actor] == nil else { continue }
                do {
                    let child = try spawn(actor, sink)
                    children[actor] = child
                    restarting.insert(actor)
                    say("\(actor.rawValue) restarted (process \(child.process.processIdentifier))")
                } catch {
                    let wait = backoff[actor, default: RestartBackoff()].next(afterUptime: .zero)
                    say("\(actor.rawValue) could not be started (\(error)); trying again in \(Self.seconds(wait))")
                    Self.restart(actor, after: wait, sink)
                }
            case .terminate:
                stopping = true
            }
        }
        say("shutting down… (a second Ctrl-C stops at once)")
        await stop(&children, &iterator)
    }

    /// Asks the watch loop to start `actor` again once `wait` has passed.
    private static func restart(_ actor: PaymentActor, after wait: Duration, _ sink: AsyncStream<Event>.Continuation) {
        Task {
            try? await Task.sleep(for: wait)
            sink.yield(.restart(actor))
        }
    }

    /// Starts `netlab serve ACTOR --supervised …`, its output and its end reported to `sink`.
    private func spawn(_ actor: PaymentActor, _ sink: AsyncStream<Event>.Continuation) throws -> Child {
        let (process, lifeline) = try SupervisedProcess.launch(
            Self.executable, ["serve", actor.rawValue, "--supervised"] + arguments(for: actor),
            onLine: { sink.yield(.line(actor, $0)) },
            onExit: { sink.yield(.exited(actor, pid: $0.processIdentifier, $0.terminationReason, $0.terminationStatus)) })
        return Child(process: process, lifeline: lifeline, started: .now)
    }

    /// What `actor` is given: this command's options, less `--instances N`, which only the
    /// gateway takes (it then runs as a cluster of instances behind nginx).
    func arguments(for actor: PaymentActor) -> [String] {
        guard actor != .gateway else { return arguments }
        var kept: [String] = []
        var skipValue = false
        for argument in arguments {
            if skipValue {
                skipValue = false
            } else if argument == "--instances" {
                skipValue = true
            } else if !argument.hasPrefix("--instances=") {
                kept.append(argument)
            }
        }
        return kept
    }

    /// Stops the services tier by tier: SIGTERM, then up to 15 s for them to finish (SIGKILL
    /// after) — for a gateway of several instances, as long as its own stop may take and a little
    /// more: killed, it could not stop its nginx.
    private func stop(_ children: inout [PaymentActor: Child], _ iterator: inout AsyncStream<Event>.Iterator) async {
        let clustered = arguments.contains { $0 == "--instances" || $0.hasPrefix("--instances=") }
        for tier in Self.stopTiers {
            var waiting = Set(tier.filter { children[$0] != nil })
            for actor in waiting { children[actor]?.process.terminate() }
            let pids = waiting.compactMap { children[$0]?.process.processIdentifier }
            let grace: Duration = clustered && tier.contains(.gateway) ? GatewayCluster.longestStop + .seconds(5) : .seconds(15)
            let watchdog = Task {
                try? await Task.sleep(for: grace)
                guard !Task.isCancelled else { return }
                for pid in pids { kill(pid, SIGKILL) }
            }
            while !waiting.isEmpty, let event = await iterator.next() {
                switch event {
                case .line(_, let text): say(text)
                case .exited(let actor, _, _, _):
                    waiting.remove(actor)
                    children[actor] = nil
                case .terminate, .restart: break
                }
            }
            watchdog.cancel()
        }
    }

    /// What one `serve all` process printed: the shop first, each service, the state folder, the
    /// CA and the merchant's keys; then the processes.
    private func printSummary(_ lines: [PaymentActor: [String]], _ children: [PaymentActor: Child]) {
        let all = Self.startOrder.flatMap { lines[$0] ?? [] }
        if let shop = all.first(where: { $0.hasPrefix("shop ") }) { say(shop) }
        for actor in PaymentActor.allCases {
            if let line = lines[actor]?.first(where: { $0.hasPrefix("\(actor.rawValue) ") && !$0.contains(" server key ") }) { say(line) }
        }
        // A gateway of several instances (--instances) says where they are and what they share.
        for prefix in ["instances ", "nginx ", "store ", "instructor ", "state ", "trust "] {
            if let line = all.first(where: { $0.hasPrefix(prefix) }) { say(line) }
        }
        if let keys = all.first(where: { $0.hasPrefix("merchant ") && $0.contains(" server key ") }) { say(keys) }
        say("processes " + PaymentActor.allCases.compactMap { actor in
            children[actor].map { "\(actor.rawValue) \($0.process.processIdentifier)" }
        }.joined(separator: ", ") + " (each restarted if it dies)")
    }

    /// This program's own file (a relative argv[0] would break after a `cd`).
    static var executable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    static func describe(_ reason: Process.TerminationReason, _ status: Int32) -> String {
        reason == .uncaughtSignal ? "signal \(status)" : "status \(status)"
    }

    static func seconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        return String(format: "%.1f s", Double(seconds) + Double(attoseconds) / 1e18)
    }
}

/// How long to wait before starting a service that died again: half a second, doubled for each
/// death soon after a start (one that keeps crashing at once is not restarted in a tight loop),
/// at most 10 s; a service that ran for a minute starts over from half a second.
struct RestartBackoff: Sendable {
    private(set) var wait: Duration = .milliseconds(500)
    static let shortest: Duration = .milliseconds(500)
    static let longest: Duration = .seconds(10)
    static let stable: Duration = .seconds(60)

    /// The wait before the next start, given how long the service ran this time.
    mutating func next(afterUptime uptime: Duration) -> Duration {
        if uptime >= Self.stable { wait = Self.shortest }
        let now = wait
        wait = min(wait * 2, Self.longest)
        return now
    }
}

/// Starting a child the supervisors watch: its output (stdout and stderr) line by line, its end,
/// and a lifeline — a pipe on its standard input whose other end only the supervisor holds, so
/// the child sees end-of-file when the supervisor dies, however it dies.
enum SupervisedProcess {
    static func launch(_ executable: String, _ arguments: [String], onLine: @escaping @Sendable (String) -> Void,
                       onExit: @escaping @Sendable (Process) -> Void) throws -> (Process, lifeline: Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe(), lifeline = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = lifeline
        let pending = LineBuffer()
        output.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
                for line in pending.finish() { onLine(line) }
                return
            }
            for line in pending.append(data) { onLine(line) }
        }
        process.terminationHandler = onExit
        try process.run()
        // Only the child reads these ends: ours would keep its pipe open after it is gone.
        try? lifeline.fileHandleForReading.close()
        try? output.fileHandleForWriting.close()
        return (process, lifeline)
    }
}

/// Splits a child's output into lines as it arrives.
private final class LineBuffer: Sendable {
    private let bytes = Locked<[UInt8]>([])

    func append(_ data: Data) -> [String] {
        bytes.withLock { bytes in
            bytes.append(contentsOf: data)
            var lines: [String] = []
            while let end = bytes.firstIndex(of: UInt8(ascii: "\n")) {
                lines.append(String(decoding: bytes[..<end], as: UTF8.self))
                bytes.removeSubrange(...end)
            }
            return lines
        }
    }

    func finish() -> [String] {
        bytes.withLock { bytes in
            defer { bytes.removeAll() }
            return bytes.isEmpty ? [] : [String(decoding: bytes, as: UTF8.self)]
        }
    }
}
