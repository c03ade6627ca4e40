import Foundation

/// Running real programs from tests: peers (Python, curl) and the `netlab` binary itself.
public enum TestProcess {
    /// Runs a program (looked up on PATH through /usr/bin/env) on a thread of its own — never
    /// blocking the test's cooperative pool — with stdin empty; returns its exit status and its
    /// output (stdout and stderr together). `NO_COLOR` is removed from the environment so the
    /// program decides colour by itself (on a pipe: none). See ``ChildProcess``.
    public static func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> (Int32, String) {
        try await ChildProcess.run(arguments, environment: environment)
    }

    /// `netlab`, built by `swift build` / `swift test` next to the test bundle (or `$NETLAB_BINARY`).
    public static func netlabBinary() throws -> String {
        if let path = ProcessInfo.processInfo.environment["NETLAB_BINARY"] { return path }
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for candidate in [bundle, bundle.deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent("netlab").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw CocoaError(.fileNoSuchFile, userInfo: [
            NSFilePathErrorKey: bundle.appendingPathComponent("netlab").path,
            NSLocalizedDescriptionKey: "the netlab binary is not beside \(bundle.path); run `swift build` first or set NETLAB_BINARY",
        ])
    }
}

/// A process and its descendants, read from /proc (Linux): what `netlab serve all` — a
/// supervisor and one process per service — holds in all.
public enum ProcessTree {
    /// `pid` and every live process below it.
    public static func members(_ pid: pid_t) -> [pid_t] {
        var parents: [pid_t: [pid_t]] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let child = pid_t(entry), let stat = self.stat(child), stat.state != "Z" else { continue }
            parents[stat.parent, default: []].append(child)
        }
        var all = [pid], next = [pid]
        while let current = next.popLast() {
            let below = parents[current] ?? []
            all += below
            next += below
        }
        return all
    }

    /// Open descriptors of the whole tree.
    public static func descriptors(_ pid: pid_t) -> Int {
        members(pid).reduce(0) { $0 + ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\($1)/fd").count) ?? 0) }
    }

    /// Resident memory of the whole tree, in MiB (the sum of each one's `VmRSS`).
    public static func residentMiB(_ pid: pid_t) -> Int {
        members(pid).reduce(0) { total, member in
            let status = (try? String(contentsOfFile: "/proc/\(member)/status", encoding: .utf8)) ?? ""
            let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
            return total + (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) / 1024
        }
    }

    /// Whether `pid` has ended (gone, or a zombie nobody has reaped yet).
    public static func hasEnded(_ pid: pid_t) -> Bool {
        guard let stat = stat(pid) else { return true }
        return stat.state == "Z"
    }

    /// The state letter and parent of `pid`, from /proc/PID/stat (the name in parentheses may
    /// hold spaces: the fields after its closing parenthesis count).
    private static func stat(_ pid: pid_t) -> (state: Character, parent: pid_t)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 1, let state = fields[0].first, let parent = pid_t(fields[1]) else { return nil }
        return (state, parent)
    }
}
