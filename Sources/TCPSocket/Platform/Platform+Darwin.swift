// macOS (Darwin): the same calls as Platform+Glibc.swift in Darwin's spelling. Darwin has no
// accept4/SOCK_NONBLOCK/MSG_NOSIGNAL, so those become fcntl and SO_NOSIGPIPE; the readiness loop
// uses the portable poll(2) selector.
#if canImport(Darwin)
import Darwin

enum Platform {
    typealias ThreadHandle = pthread_t

    static let streamType = SOCK_STREAM
    static let tcpProtocol = IPPROTO_TCP
    static let ipv6Protocol = IPPROTO_IPV6
    static let shutRead = SHUT_RD
    static let shutWrite = SHUT_WR
    static let shutBoth = SHUT_RDWR
    static let sendFlags: Int32 = 0

    static var errno: Int32 { Darwin.errno }

    private static func makeNonBlockingCloseOnExec(_ fd: Int32) {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
    }

    static func makeStreamSocket(family: Int32) -> Int32 {
        let fd = socket(family, streamType, 0)
        if fd >= 0 { makeNonBlockingCloseOnExec(fd); disableSigPipe(fd) }
        return fd
    }

    static func accept(
        _ fd: Int32, _ address: UnsafeMutablePointer<sockaddr>, _ length: UnsafeMutablePointer<socklen_t>
    ) -> Int32 {
        let client = Darwin.accept(fd, address, length)
        if client >= 0 { makeNonBlockingCloseOnExec(client); disableSigPipe(client) }
        return client
    }

    static func socketPair(_ fds: UnsafeMutablePointer<Int32>) -> Int32 {
        let rc = socketpair(AF_UNIX, streamType, 0, fds)
        if rc == 0 {
            for i in 0..<2 { makeNonBlockingCloseOnExec(fds[i]); disableSigPipe(fds[i]) }
        }
        return rc
    }

    /// `SO_NOSIGPIPE`: Darwin's per-socket way to get EPIPE instead of a process-killing SIGPIPE.
    static func disableSigPipe(_ fd: Int32) {
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    static func send(_ fd: Int32, _ bytes: UnsafeRawPointer?, _ count: Int) -> Int {
        Darwin.send(fd, bytes, count, sendFlags)
    }

    static func recv(_ fd: Int32, _ bytes: UnsafeMutableRawPointer?, _ count: Int) -> Int {
        Darwin.recv(fd, bytes, count, 0)
    }

    static func close(_ fd: Int32) -> Int32 { Darwin.close(fd) }

    static func connect(_ fd: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> Int32 {
        Darwin.connect(fd, address, length)
    }

    static func listen(_ fd: Int32, _ backlog: Int32) -> Int32 { Darwin.listen(fd, backlog) }

    static func shutdown(_ fd: Int32, _ how: Int32) -> Int32 { Darwin.shutdown(fd, how) }

    static func setKeepAliveTiming(_ fd: Int32, idle: Int32, interval: Int32, count: Int32) -> (String, Int32)? {
        for (name, option, value) in [
            ("TCP_KEEPALIVE", TCP_KEEPALIVE, idle), ("TCP_KEEPINTVL", TCP_KEEPINTVL, interval),
            ("TCP_KEEPCNT", TCP_KEEPCNT, count),
        ] {
            var v = value
            if setsockopt(fd, tcpProtocol, option, &v, socklen_t(MemoryLayout<Int32>.size)) != 0 {
                return (name, errno)
            }
        }
        return nil
    }

    static let gaiNoName = EAI_NONAME
    static let gaiNoData: Int32 = EAI_NONAME
    static let gaiSystem = EAI_SYSTEM

    static func startThread(name: String, _ body: @escaping @Sendable () -> Void) -> pthread_t {
        final class Box { let body: @Sendable () -> Void; init(_ b: @escaping @Sendable () -> Void) { body = b } }
        let context = Unmanaged.passRetained(Box(body)).toOpaque()
        var thread: pthread_t?
        let rc = pthread_create(&thread, nil, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw).takeRetainedValue()
            box.body()
            return nil
        }, context)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        return thread!
    }

    static func join(_ thread: pthread_t) { _ = pthread_join(thread, nil) }

    /// Lets a thread's resources go when it ends (for threads nobody joins).
    static func detach(_ thread: pthread_t) { _ = pthread_detach(thread) }


    static func makeSelector() throws(SocketError) -> any Selector { try PollSelector() }

    static var coreCount: Int { max(1, Int(sysconf(_SC_NPROCESSORS_ONLN))) }
}
#endif
