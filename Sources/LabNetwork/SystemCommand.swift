import CSystem
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One run of a system tool (`ip`), to its end: the network is configured with iproute2, the
/// tool every Linux administrator uses, so a student can repeat each step by hand
/// (`netlab net up --verbose` prints them).
struct SystemCommand {
    let arguments: [String]

    /// What a finished command said.
    struct Outcome {
        var status: Int32
        var output: String
    }

    init(_ arguments: [String]) {
        self.arguments = arguments
    }

    var description: String { arguments.joined(separator: " ") }

    /// Runs the command (found on PATH) and waits for it; stdout and stderr together.
    func run() throws(LabNetworkError) -> Outcome {
        var pipe: [Int32] = [-1, -1]
        // Both ends close-on-exec from the start, and the child closes everything above stderr:
        // no other program started meanwhile can hold the pipe open (read() would wait for it).
        guard netlab_pipe_cloexec(&pipe) == 0 else { throw .commandFailed(description, status: -1, output: "pipe: errno \(errno)") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, pipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, pipe[1], 2)
        _ = netlab_spawn_close_from(&actions, 3)
        let argv = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var child: pid_t = 0
        let spawned = posix_spawnp(&child, arguments[0], &actions, nil, argv, environ)
        close(pipe[1])
        defer { close(pipe[0]) }
        guard spawned == 0 else {
            throw .toolMissing(arguments[0], String(cString: strerror(spawned)))
        }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(pipe[0], &chunk, chunk.count)
            if n > 0 {
                output += chunk[..<n]
            } else if n == 0 || errno != EINTR {
                break
            }
        }
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 && errno == EINTR {}
        let exited = status & 0x7F == 0
        return Outcome(status: exited ? (status >> 8) & 0xFF : 128 + (status & 0x7F), output: String(decoding: output, as: UTF8.self))
    }

    /// Runs the command and throws unless it succeeded.
    @discardableResult
    func check() throws(LabNetworkError) -> String {
        let outcome = try run()
        guard outcome.status == 0 else { throw .commandFailed(description, status: outcome.status, output: outcome.output) }
        return outcome.output
    }
}
