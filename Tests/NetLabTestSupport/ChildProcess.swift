import Foundation
import TCPSocket
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A program a test runs — a peer (curl, Python, openssl) or `netlab` itself — spawned with
/// `posix_spawn` and reaped with `waitpid` by this type, not by Foundation's `Process`.
///
/// Why not `Process`: on Linux, Foundation learns that a child exited when a socketpair made
/// *without* close-on-exec reaches end of file. A second child spawned at that moment from
/// another thread (tests run in parallel) can inherit the pair's other end; `isRunning` and
/// `waitUntilExit()` then wait until that second child exits too. Seen in CI: a service that had
/// exited at once still "running" 30 s later, while a parallel test's nested build ran. Here
/// every pipe is close-on-exec, the child closes every descriptor above stderr before it starts,
/// and the exit comes from `waitpid` on a thread of this object's own: nothing another test
/// spawns can delay it.
///
/// Output (stdout and stderr, merged unless asked otherwise) is collected by reader threads as
/// it arrives; nothing here blocks Swift's cooperative pool except the documented blocking calls,
/// which tests call from threads of their own.
public final class ChildProcess: Sendable {
    /// How a child ended.
    public enum Exit: Sendable, Equatable, CustomStringConvertible {
        case status(Int32)
        case signal(Int32)

        /// The exit status, or the signal number when a signal ended it (as `Process` reports it).
        public var code: Int32 {
            switch self {
            case .status(let status), .signal(let status): status
            }
        }

        public var description: String {
            switch self {
            case .status(let status): "status \(status)"
            case .signal(let signal): "signal \(signal)"
            }
        }
    }

    public let pid: pid_t
    public let arguments: [String]
    private let collected = Locked<(output: [UInt8], error: [UInt8])>(([], []))
    private let readersLeft = Locked(0)
    private let exit = Locked<Exit?>(nil)
    private let changed = NSCondition()
    private let onOutput: (@Sendable (String) -> Void)?
    /// The write end of an interactive child's stdin (see `interactive`); -1 once closed.
    private let inputWriter: Locked<Int32>
    /// How much of the output ``readLine(timeout:)`` has consumed.
    private let lineCursor = Locked(0)

    /// Spawns `executable` (a path; use `/usr/bin/env` to search PATH) with `arguments`.
    /// `input` is written to its stdin, which is then closed; with `interactive`, stdin stays open
    /// for ``write(_:)`` until ``closeInput()``; otherwise stdin is /dev/null.
    /// `onOutput` is called with everything collected so far after each new piece of output.
    public init(
        executable: String, arguments: [String], environment: [String: String]? = nil, input: [UInt8]? = nil,
        interactive: Bool = false, separateStandardError: Bool = false, onOutput: (@Sendable (String) -> Void)? = nil
    ) throws {
        Self.ignoreBrokenPipes()
        self.arguments = arguments
        self.onOutput = onOutput
        // Pipes made so far are closed if a later one cannot be made.
        var made: [Int32] = []
        func makePipe() throws -> (read: Int32, write: Int32) {
            do {
                let pipe = try Self.pipe()
                made += [pipe.read, pipe.write]
                return pipe
            } catch {
                for fd in made { close(fd) }
                throw error
            }
        }
        let output = try makePipe(), error = separateStandardError ? try makePipe() : nil
        let stdin = input == nil && !interactive ? nil : try makePipe()
        defer {
            for fd in [output.write, error?.write, stdin?.read].compactMap({ $0 }) { close(fd) }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let stdin {
            posix_spawn_file_actions_adddup2(&actions, stdin.read, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, output.write, 1)
        posix_spawn_file_actions_adddup2(&actions, error?.write ?? output.write, 2)
        Self.closeEverythingAboveStandardError(&actions)

        let environment = environment ?? ProcessInfo.processInfo.environment
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        // The child starts with no signal blocked and every signal's default action: a thread of
        // Swift's pool blocks most signals (and this process ignores SIGPIPE), and a child would
        // inherit both — a peer that never sees the SIGINT meant to stop it.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        sigdelset(&all, SIGKILL)
        sigdelset(&all, SIGSTOP)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var spawned: pid_t = 0
        let result = posix_spawn(&spawned, executable, &actions, &attributes, argv, envp)
        guard result == 0 else {
            for fd in [output.read, error?.read, stdin?.write].compactMap({ $0 }) { close(fd) }
            throw POSIXError(POSIXErrorCode(rawValue: result) ?? .EIO, userInfo: [NSLocalizedDescriptionKey: "posix_spawn \(executable): errno \(result)"])
        }
        let pid = spawned
        self.pid = pid
        inputWriter = Locked(interactive ? stdin?.write ?? -1 : -1)

        readersLeft.withLock { $0 = error == nil ? 1 : 2 }
        startReader(output.read, isError: false)
        if let error { startReader(error.read, isError: true) }
        if let stdin, let input, !interactive {
            Thread {
                writeAll(stdin.write, input)
                close(stdin.write)
            }.start()
        }
        Thread { [self] in
            var status: Int32 = 0
            var reaped: pid_t
            repeat { reaped = waitpid(pid, &status, 0) } while reaped == -1 && errno == EINTR
            // The wait-status layout (the C macros are not imported): low 7 bits = signal. A
            // failed waitpid (nothing else reaps our children, so it should not happen) is
            // reported as status -1, never as a clean exit.
            let ended: Exit = reaped != pid ? .status(-1) : (status & 0x7f) == 0 ? .status((status >> 8) & 0xff) : .signal(status & 0x7f)
            changed.lock()
            exit.withLock { $0 = ended }
            changed.broadcast()
            changed.unlock()
        }.start()
    }

    /// Everything the child wrote so far (stdout, and stderr unless kept separate).
    public var output: String { String(decoding: collected.withLock { $0.output }, as: UTF8.self) }
    /// What the child wrote to stderr, when kept separate.
    public var errorOutput: String { String(decoding: collected.withLock { $0.error }, as: UTF8.self) }
    /// How the child ended; nil while it runs.
    public var exited: Exit? { exit.withLock { $0 } }

    /// Writes `text` to an interactive child's stdin (blocking until the pipe takes it all).
    public func write(_ text: String) {
        inputWriter.withLock { fd in
            guard fd >= 0 else { return }
            writeAll(fd, Array(text.utf8))
        }
    }

    /// Closes an interactive child's stdin (it then reads end of file).
    public func closeInput() {
        inputWriter.withLock { fd in
            if fd >= 0 { close(fd) }
            fd = -1
        }
    }

    /// The next line of output (without its newline), blocking the calling thread until it is
    /// complete; the rest of the output at end of file; nil at end of file with nothing left, or
    /// when `timeout` passes.
    public func readLineBlocking(timeout: Duration = .seconds(60)) -> String? {
        let deadline = Self.date(after: timeout)
        changed.lock()
        defer { changed.unlock() }
        while true {
            let output = collected.withLock { $0.output }
            let start = lineCursor.withLock { $0 }
            if let newline = output[start...].firstIndex(of: UInt8(ascii: "\n")) {
                lineCursor.withLock { $0 = newline + 1 }
                return String(decoding: output[start..<newline], as: UTF8.self)
            }
            if readersLeft.withLock({ $0 }) == 0 {
                guard start < output.count else { return nil }
                lineCursor.withLock { $0 = output.count }
                return String(decoding: output[start...], as: UTF8.self)
            }
            if !changed.wait(until: deadline) { return nil }
        }
    }

    /// ``readLineBlocking(timeout:)`` on a thread of its own.
    public func readLine(timeout: Duration = .seconds(60)) async -> String? {
        await withCheckedContinuation { continuation in
            Thread { [self] in continuation.resume(returning: readLineBlocking(timeout: timeout)) }.start()
        }
    }

    /// Sends `signal` to the child, unless it has already been reaped (between the reaping and
    /// its record there is a window of microseconds in which the pid could, in theory, be reused).
    public func send(_ signal: Int32) {
        if exited == nil { kill(pid, signal) }
    }

    /// Blocks the calling thread (never a cooperative-pool thread) until the child has exited and
    /// its output reached end of file, or `timeout` passed; the exit, or nil on timeout.
    public func waitBlocking(timeout: Duration? = nil) -> Exit? {
        let deadline = timeout.map(Self.date(after:))
        changed.lock()
        defer { changed.unlock() }
        while exit.withLock({ $0 }) == nil || readersLeft.withLock({ $0 }) > 0 {
            if let deadline {
                if !changed.wait(until: deadline) { break }
            } else {
                changed.wait()
            }
        }
        return exited
    }

    /// Waits, on a thread of its own, for the exit and the end of the output (at most `timeout`).
    public func wait(timeout: Duration? = nil) async -> Exit? {
        await withCheckedContinuation { continuation in
            Thread { [self] in continuation.resume(returning: waitBlocking(timeout: timeout)) }.start()
        }
    }

    /// Runs a program found on PATH to its end, on a thread of its own; its exit code (the signal
    /// number if a signal ended it) and its output, stdout and stderr together. `NO_COLOR` is
    /// removed from the environment so the program decides colour by itself (on a pipe: none).
    public static func run(_ arguments: [String], environment: [String: String] = [:], input: [UInt8]? = nil) async throws -> (Int32, String) {
        var merged = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        merged.removeValue(forKey: "NO_COLOR")
        let child = try ChildProcess(executable: "/usr/bin/env", arguments: arguments, environment: merged, input: input)
        let exit = await child.wait()
        return (exit?.code ?? -1, child.output)
    }

    private func startReader(_ fd: Int32, isError: Bool) {
        Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { break }
                changed.lock()
                let text = collected.withLock { collected -> [UInt8] in
                    if isError { collected.error += buffer[..<count] } else { collected.output += buffer[..<count] }
                    return collected.output
                }
                changed.broadcast()
                changed.unlock()
                onOutput?(String(decoding: text, as: UTF8.self))
            }
            close(fd)
            changed.lock()
            readersLeft.withLock { $0 -= 1 }
            changed.broadcast()
            changed.unlock()
        }.start()
    }

    /// A child that exits without reading all of its `input` must make the write fail with
    /// EPIPE, not kill the test process with SIGPIPE.
    private static let brokenPipesIgnored: Void = { _ = signal(SIGPIPE, SIG_IGN) }()
    private static func ignoreBrokenPipes() { _ = brokenPipesIgnored }

    /// The wall-clock moment `duration` from now (what NSCondition waits until).
    private static func date(after duration: Duration) -> Date {
        Date(timeIntervalSinceNow: Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
    }

    private static func pipe() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [0, 0]
        #if canImport(Glibc)
        // pipe2 creates both ends close-on-exec at once (no window for a parallel spawn to
        // inherit them); a GNU extension, so looked up at run time.
        typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32
        if let symbol = dlsym(nil, "pipe2") {
            guard unsafeBitCast(symbol, to: Pipe2.self)(&fds, O_CLOEXEC) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            return (fds[0], fds[1])
        }
        #endif
        guard Foundation.pipe(&fds) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return (fds[0], fds[1])
    }

    /// Makes the child close every descriptor above 2 before it runs — those another thread
    /// opened without close-on-exec too — with glibc's `posix_spawn_file_actions_addclosefrom_np`
    /// (2.34+; looked up at run time, as Swift's Glibc module does not declare GNU extensions).
    /// Elsewhere the child inherits only descriptors lacking close-on-exec (ours all have it).
    private static func closeEverythingAboveStandardError(_ actions: inout posix_spawn_file_actions_t) {
        #if canImport(Glibc)
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        if let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") {
            _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
        }
        #endif
    }
}

/// Writes all of `bytes` to `fd` (retrying short writes and EINTR); stops at the first error
/// (EPIPE when the child has stopped reading).
private func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    bytes.withUnsafeBytes { buffer in
        var offset = 0
        while offset < buffer.count {
            let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if written < 0 && errno == EINTR { continue }
            if written <= 0 { break }
            offset += written
        }
    }
}
