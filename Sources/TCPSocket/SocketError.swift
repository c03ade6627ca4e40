/// A failed system call: which call, on what, and the `errno` it left behind.
///
/// Kept whole so a student can look the number up (`man 2 connect`, `man 3 errno`) and so a
/// log line says exactly what the kernel said, e.g.
/// `connect(127.0.0.1:9) failed: ECONNREFUSED (errno 111: Connection refused)`.
public struct SystemCallFailure: Error, Hashable, Sendable, CustomStringConvertible {
    /// The system call that failed, e.g. `"connect"`, `"bind"`, `"recv"`.
    public let syscall: String
    /// What the call was applied to, e.g. `"127.0.0.1:8080"`; empty when there is nothing useful.
    public let target: String
    /// The `errno` value the call left behind.
    public let errno: Int32
    /// `strerror(errno)`, captured at the moment of failure.
    public let message: String

    public init(syscall: String, target: String = "", errno: Int32, message: String? = nil) {
        self.syscall = syscall
        self.target = target
        self.errno = errno
        self.message = message ?? Platform.errorMessage(errno)
    }

    /// The symbolic name of ``errno`` (`"ECONNREFUSED"`), when it is one of the common ones.
    public var errnoName: String? { Platform.errnoName(errno) }

    public var description: String {
        let call = target.isEmpty ? "\(syscall)()" : "\(syscall)(\(target))"
        let name = errnoName.map { "\($0) " } ?? ""
        return "\(call) failed: \(name)(errno \(errno): \(message))"
    }
}

/// Everything that can go wrong in the TCPSocket layer, one case per thing a caller would
/// handle differently.
///
/// End of stream is *not* an error: reads report it as ``ReadResult/endOfStream``. Errors that
/// come from the kernel keep the whole ``SystemCallFailure`` (syscall name, errno, strerror).
public enum SocketError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Nobody listens on that address and port: the peer answered the SYN with a RST (`ECONNREFUSED`).
    case connectionRefused(SystemCallFailure)
    /// The peer aborted the connection with a RST (`ECONNRESET`).
    case connectionReset(SystemCallFailure)
    /// A write after the peer (or we) shut the connection down (`EPIPE`). Never a SIGPIPE.
    case brokenPipe(SystemCallFailure)
    /// The local address is taken by another socket (`EADDRINUSE`).
    case addressInUse(SystemCallFailure)
    /// The address is not one of this machine's (`EADDRNOTAVAIL`).
    case addressNotAvailable(SystemCallFailure)
    /// No route to the network or host (`ENETUNREACH`, `EHOSTUNREACH`).
    case unreachable(SystemCallFailure)
    /// The process or system ran out of file descriptors (`EMFILE`, `ENFILE`).
    case tooManyOpenFiles(SystemCallFailure)
    /// The kernel gave up on the connection (`ETIMEDOUT`, e.g. keep-alive probes unanswered).
    case kernelTimeout(SystemCallFailure)
    /// Any other failed system call.
    case system(SystemCallFailure)

    /// An operation did not finish before the deadline the caller gave it.
    case timedOut(operation: String, target: String, limit: Duration)
    /// The name does not resolve to any address (`EAI_NONAME`, `EAI_NODATA`).
    case hostNotFound(host: String, code: Int32, message: String)
    /// Name resolution failed for another reason (`EAI_AGAIN`, `EAI_FAIL`, …); `message` is `gai_strerror`.
    case resolutionFailed(host: String, code: Int32, message: String)
    /// `readExactly` met the end of the stream before it had all the bytes it was asked for.
    case unexpectedEndOfStream(expected: Int, received: Int)
    /// The socket was already closed by this process (local misuse, not a network event).
    case closed(operation: String)
    /// The text given as an address or port is not one (`"localhost:http"`, a port above 65535 …).
    case invalidAddress(String)

    /// Classifies a failed call by its errno.
    public static func from(_ failure: SystemCallFailure) -> SocketError {
        switch Platform.ErrnoClass(failure.errno) {
        case .connectionRefused: return .connectionRefused(failure)
        case .connectionReset: return .connectionReset(failure)
        case .brokenPipe: return .brokenPipe(failure)
        case .addressInUse: return .addressInUse(failure)
        case .addressNotAvailable: return .addressNotAvailable(failure)
        case .unreachable: return .unreachable(failure)
        case .tooManyOpenFiles: return .tooManyOpenFiles(failure)
        case .timedOut: return .kernelTimeout(failure)
        case .other: return .system(failure)
        }
    }

    /// True for running out of descriptors or kernel memory: conditions that pass.
    public var isResourceExhaustion: Bool {
        switch self {
        case .tooManyOpenFiles: return true
        case .system(let failure): return Platform.isOutOfMemory(failure.errno)
        default: return false
        }
    }

    /// The system call behind this error, when a system call failed.
    public var systemCall: SystemCallFailure? {
        switch self {
        case .connectionRefused(let f), .connectionReset(let f), .brokenPipe(let f),
            .addressInUse(let f), .addressNotAvailable(let f), .unreachable(let f),
            .tooManyOpenFiles(let f), .kernelTimeout(let f), .system(let f):
            return f
        case .timedOut, .hostNotFound, .resolutionFailed, .unexpectedEndOfStream, .closed,
            .invalidAddress:
            return nil
        }
    }

    public var description: String {
        switch self {
        case .connectionRefused(let f): return "connection refused: \(f)"
        case .connectionReset(let f): return "connection reset by peer: \(f)"
        case .brokenPipe(let f): return "broken pipe (the connection is shut down for writing): \(f)"
        case .addressInUse(let f): return "address already in use: \(f)"
        case .addressNotAvailable(let f): return "address not available on this machine: \(f)"
        case .unreachable(let f): return "network or host unreachable: \(f)"
        case .tooManyOpenFiles(let f): return "out of file descriptors (see `ulimit -n`): \(f)"
        case .kernelTimeout(let f): return "the kernel timed the connection out: \(f)"
        case .system(let f): return f.description
        case .timedOut(let operation, let target, let limit):
            let on = target.isEmpty ? "" : " on \(target)"
            return "\(operation)\(on) timed out after \(limit)"
        case .hostNotFound(let host, let code, let message):
            return "host not found: \"\(host)\" (getaddrinfo \(code): \(message))"
        case .resolutionFailed(let host, let code, let message):
            return "could not resolve \"\(host)\" (getaddrinfo \(code): \(message))"
        case .unexpectedEndOfStream(let expected, let received):
            return "the peer closed the stream after \(received) of \(expected) expected bytes"
        case .closed(let operation):
            return "\(operation) on a socket this process already closed"
        case .invalidAddress(let text):
            return "not a valid address: \(text)"
        }
    }
}
