import CSystem
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A Linux network namespace made with `ip netns add NAME` (a file under `/run/netns`): a host
/// of its own inside this machine, with its own interfaces, addresses, routes and ports.
///
/// A socket belongs to the namespace of the thread that created it, for the whole of its life,
/// whatever thread later reads or writes it. So ``run(_:)`` makes sockets on a short-lived
/// thread that entered the namespace (`setns(2)`), and the rest of the process — its event
/// loops included — never leaves its own: one process can be the customer, the merchant and
/// the bank, each connection on the right host. ``TCPListener/init(bindingTo:backlog:reuseAddress:ipv6Only:in:)``
/// and ``AsyncTCPConnection/connect(to:timeout:on:in:)`` take one.
///
/// Entering needs `CAP_SYS_ADMIN` (root): without it ``run(_:)`` throws the failed `setns`
/// with `EPERM`.
public struct NetworkNamespace: Sendable, Hashable, CustomStringConvertible {
    /// Where `ip netns` keeps its namespaces.
    public static let directory = "/run/netns"

    public let name: String

    public init(_ name: String) {
        self.name = name
    }

    public var path: String { "\(Self.directory)/\(name)" }
    public var description: String { "network namespace \(name)" }

    /// Whether the namespace exists (its file under ``directory``).
    public var exists: Bool { access(path, F_OK) == 0 }

    /// Runs `body` on a new thread inside the namespace and returns its result, without holding
    /// the caller's thread meanwhile (a task suspends; the cooperative pool stays free).
    public func perform<T: Sendable>(_ body: @escaping @Sendable () throws(SocketError) -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<T, any Error>) in
            let thread = Platform.startThread(name: "netlab-netns-wait") {
                done.resume(with: Result { () throws(SocketError) -> T in try run(body) })
            }
            Platform.detach(thread)
        }
    }

    /// Runs `body` on a new thread inside the namespace, waits for it (blocking this thread for
    /// the moment a thread takes to start), and returns its result.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws(SocketError) -> T) throws(SocketError) -> T {
        #if os(Linux)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .from(SystemCallFailure(syscall: "open", target: path, errno: Platform.errno)) }
        defer { _ = Platform.close(fd) }
        let outcome = Locked<Result<T, SocketError>?>(nil)
        let target = description
        let thread = Platform.startThread(name: "netlab-netns") {
            guard netlab_enter_network_namespace(fd) == 0 else {
                let failure = SystemCallFailure(syscall: "setns", target: target, errno: Platform.errno)
                outcome.withLock { $0 = .failure(.from(failure)) }
                return
            }
            let result = Result { () throws(SocketError) -> T in try body() }
            outcome.withLock { $0 = result }
        }
        Platform.join(thread)
        guard let result = outcome.withLock({ $0 }) else {
            throw .from(SystemCallFailure(syscall: "setns", target: target, errno: EINVAL))
        }
        return try result.get()
        #else
        throw .from(SystemCallFailure(syscall: "setns", target: "\(description) (Linux only)", errno: ENOTSUP))
        #endif
    }
}
