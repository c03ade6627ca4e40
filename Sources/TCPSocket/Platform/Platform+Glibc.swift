// Linux (Glibc): every system call and constant whose spelling differs between platforms lives
// in this file and its Darwin sibling, so the rest of the layer never needs `#if`.
#if canImport(Glibc)
import CSystem
import Glibc

enum Platform {
    typealias ThreadHandle = pthread_t

    // MARK: Constants

    static let streamType = Int32(SOCK_STREAM.rawValue)
    static let tcpProtocol = Int32(IPPROTO_TCP)
    static let ipv6Protocol = Int32(IPPROTO_IPV6)
    static let shutRead = Int32(SHUT_RD)
    static let shutWrite = Int32(SHUT_WR)
    static let shutBoth = Int32(SHUT_RDWR)
    /// `MSG_NOSIGNAL`: a send on a connection the peer closed returns EPIPE instead of raising
    /// SIGPIPE, whose default action would kill the whole process.
    static let sendFlags = Int32(MSG_NOSIGNAL)

    static var errno: Int32 { Glibc.errno }

    // MARK: Sockets

    /// `getsockopt(TCP_INFO)` (Linux); -1 with errno on failure.
    static func tcpInfo(_ fd: Int32, into info: inout netlab_tcp_info) -> Int32 {
        netlab_tcp_info(fd, &info)
    }

    /// A TCP socket that is non-blocking (waits happen in `poll` or the readiness loop, where they
    /// can have deadlines) and close-on-exec (child processes do not inherit it).
    static func makeStreamSocket(family: Int32) -> Int32 {
        socket(family, streamType | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    }

    /// `accept4` hands back a socket that is already non-blocking and close-on-exec: no window in
    /// which a blocking descriptor exists.
    static func accept(
        _ fd: Int32, _ address: UnsafeMutablePointer<sockaddr>, _ length: UnsafeMutablePointer<socklen_t>
    ) -> Int32 {
        netlab_accept4(fd, address, length)
    }

    static func socketPair(_ fds: UnsafeMutablePointer<Int32>) -> Int32 {
        socketpair(
            AF_UNIX, streamType | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, fds)
    }

    /// Nothing to do on Linux: `sendFlags` carries `MSG_NOSIGNAL` on every send.
    static func disableSigPipe(_ fd: Int32) {}

    static func send(_ fd: Int32, _ bytes: UnsafeRawPointer?, _ count: Int) -> Int {
        Glibc.send(fd, bytes, count, sendFlags)
    }

    static func recv(_ fd: Int32, _ bytes: UnsafeMutableRawPointer?, _ count: Int) -> Int {
        Glibc.recv(fd, bytes, count, 0)
    }

    static func close(_ fd: Int32) -> Int32 { Glibc.close(fd) }

    static func connect(_ fd: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> Int32 {
        Glibc.connect(fd, address, length)
    }

    static func listen(_ fd: Int32, _ backlog: Int32) -> Int32 { Glibc.listen(fd, backlog) }

    static func shutdown(_ fd: Int32, _ how: Int32) -> Int32 { Glibc.shutdown(fd, how) }

    /// Keep-alive timing (seconds): idle time before the first probe, gap between probes, count.
    static func setKeepAliveTiming(_ fd: Int32, idle: Int32, interval: Int32, count: Int32) -> (String, Int32)? {
        for (name, option, value) in [
            ("TCP_KEEPIDLE", TCP_KEEPIDLE, idle), ("TCP_KEEPINTVL", TCP_KEEPINTVL, interval),
            ("TCP_KEEPCNT", TCP_KEEPCNT, count),
        ] {
            var v = value
            if setsockopt(fd, tcpProtocol, option, &v, socklen_t(MemoryLayout<Int32>.size)) != 0 {
                return (name, errno)
            }
        }
        return nil
    }

    // MARK: Name resolution

    static let gaiNoName = EAI_NONAME
    static let gaiNoData = netlab_eai_nodata()
    static let gaiSystem = EAI_SYSTEM

    // MARK: Threads

    /// Starts a detached-from-Swift OS thread running `body`; returns a handle for `join`.
    static func startThread(name: String, _ body: @escaping @Sendable () -> Void) -> pthread_t {
        final class Box { let body: @Sendable () -> Void; init(_ b: @escaping @Sendable () -> Void) { body = b } }
        let context = Unmanaged.passRetained(Box(body)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            box.body()
            return nil
        }, context)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        netlab_set_thread_name(thread, String(name.prefix(15)))
        return thread
    }

    static func join(_ thread: pthread_t) { _ = pthread_join(thread, nil) }

    /// Lets a thread's resources go when it ends (for threads nobody joins).
    static func detach(_ thread: pthread_t) { _ = pthread_detach(thread) }


    /// Readiness loops on Linux use epoll.
    static func makeSelector() throws(SocketError) -> any Selector { try EpollSelector() }

    /// The number of CPU cores this process may run on.
    static var coreCount: Int {
        let allowed = Int(netlab_available_cpus())
        return allowed > 0 ? allowed : max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }
}
#endif
