import Foundation
import NetLabTestSupport
import Testing

@testable import TCPSocket

/// SplitMix64: a tiny seeded generator, so every random choice in a test can be replayed.
/// The seed comes from `NETLAB_SEED` when set, else from the test's fixed default; tests
/// print it in every failure message.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    let seed: UInt64

    init(defaultSeed: UInt64) {
        let fromEnvironment = ProcessInfo.processInfo.environment["NETLAB_SEED"].flatMap { UInt64($0) }
        seed = fromEnvironment ?? defaultSeed
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// An order-sensitive 64-bit checksum of a byte stream (FNV-1a over little-endian 8-byte
/// words). The result depends only on the bytes, not on how they were split into `add` calls:
/// a partial word is carried over to the next call.
struct Checksum: Equatable, CustomStringConvertible {
    private var value: UInt64 = 0xCBF2_9CE4_8422_2325
    private var carry: UInt64 = 0
    private var carried = 0
    private(set) var count = 0

    private mutating func mix(_ word: UInt64) { value = (value ^ word) &* 0x100_0000_01B3 }

    mutating func add(_ bytes: UnsafeRawBufferPointer) {
        count += bytes.count
        var i = 0
        while carried != 0 && i < bytes.count {
            carry |= UInt64(bytes[i]) << (8 * UInt64(carried))
            carried += 1
            i += 1
            if carried == 8 { mix(carry); carry = 0; carried = 0 }
        }
        while i + 8 <= bytes.count {
            mix(UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)))
            i += 8
        }
        while i < bytes.count {
            carry |= UInt64(bytes[i]) << (8 * UInt64(carried))
            carried += 1
            i += 1
        }
    }

    mutating func add(_ bytes: [UInt8]) { bytes.withUnsafeBytes { add($0) } }

    /// The checksum including a final partial word.
    var digest: UInt64 { carried == 0 ? value : (value ^ carry ^ UInt64(carried) << 60) &* 0x100_0000_01B3 }

    static func == (a: Checksum, b: Checksum) -> Bool { a.count == b.count && a.digest == b.digest }

    var description: String { "\(count) bytes, checksum \(String(digest, radix: 16))" }
}

/// Starts `body` on a new OS thread (for the blocking API, which must not tie up the
/// cooperative pool) and returns a way to wait for it.
final class BackgroundThread<Result: Sendable>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var outcome: Swift.Result<Result, any Error>?

    init(_ body: @escaping @Sendable () throws -> Result) {
        let thread = Thread { [self] in
            outcome = Swift.Result { try body() }
            done.signal()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Waits for the thread (without blocking the cooperative pool) and returns its result.
    func value() async throws -> Result {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                self.done.wait()
                c.resume()
            }
        }
        return try outcome!.get()
    }
}

/// The number of open file descriptors of this process (Linux: entries in /proc/self/fd).
func openDescriptorCount() -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
}

/// The number of OS threads in this process (Linux: `Threads:` in /proc/self/status).
func threadCount() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return -1 }
    for line in status.split(separator: "\n") where line.hasPrefix("Threads:") {
        return Int(line.dropFirst("Threads:".count).trimmingCharacters(in: .whitespaces)) ?? -1
    }
    return -1
}

/// Raises this process's soft limit on open files to `wanted` (or the hard limit, if lower)
/// and returns the limit now in force.
func raiseOpenFileLimit(to wanted: Int) -> Int {
    var limit = rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    if limit.rlim_cur < rlim_t(wanted) {
        limit.rlim_cur = min(rlim_t(wanted), limit.rlim_max)
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
    return Int(limit.rlim_cur)
}

/// `python3` running `script` with arguments, talked to line by line (``ChildProcess``, not
/// Foundation's `Process`: see why there).
struct PythonProcess {
    let child: ChildProcess

    init(script: String, arguments: [String] = []) throws {
        child = try ChildProcess(executable: "/usr/bin/env", arguments: ["python3", "-c", script] + arguments, interactive: true,
                                 separateStandardError: true)
    }

    /// The next line of the child's output (at most 60 s: a guard against hangs). Throws with
    /// its stderr when the output ends first.
    func readLine() async throws -> String {
        guard let line = await child.readLine() else {
            throw SocketError.closed(operation: "python3 output ended (stderr: \(child.errorOutput))")
        }
        return line
    }

    /// Writes a line to the child's standard input.
    func send(_ line: String) { child.write(line + "\n") }

    /// Waits for the child to exit (at most 60 s) and returns its status (-1: still running).
    func wait() async throws -> Int32 {
        child.closeInput()
        return await child.wait(timeout: .seconds(60))?.code ?? -1
    }
}

/// Runs an echo server on the readiness loop for the duration of `body`.
func withAsyncEchoServer<R>(
    host: String = "127.0.0.1", family: ListenFamily = .dualStack, group: EventLoopGroup = .shared,
    readSizes: @escaping @Sendable () -> Int = { 65536 },
    _ body: (AsyncTCPListener) async throws -> R
) async throws -> R {
    let listener = try AsyncTCPListener(host: host, port: 0, family: family, group: group)
    let server = Task {
        try await listener.serve { connection in
            var buffer: [UInt8] = []
            while case .bytes = try await connection.read(into: &buffer, maxBytes: readSizes()) {
                try await connection.write(buffer)
                buffer.removeAll(keepingCapacity: true)
            }
        }
    }
    defer { server.cancel() }
    let result = try await body(listener)
    await listener.close()
    try await server.value
    return result
}
