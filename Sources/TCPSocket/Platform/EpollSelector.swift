// epoll(7): the Linux readiness mechanism behind EventLoop.
#if canImport(Glibc)
import CSystem
import Glibc

/// Waits on many descriptors with one `epoll_wait` call.
///
/// Every descriptor is registered `EPOLLONESHOT`: after one notification the kernel keeps it
/// quiet until the loop arms it again for whatever its waiters still want. Level-triggered
/// arming means a descriptor that is *already* readable when armed reports at once, so a
/// waiter registered just after data arrived is never missed.
final class EpollSelector: Selector {
    private let epollFD: Int32
    /// An eventfd registered level-triggered: a write to it makes `epoll_wait` return.
    private let wakeFD: Int32
    private let events: UnsafeMutableBufferPointer<epoll_event>

    init(maxEventsPerWait: Int = 512) throws(SocketError) {
        let ep = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard ep >= 0 else {
            throw SocketError.from(SystemCallFailure(syscall: "epoll_create1", errno: Platform.errno))
        }
        let wake = eventfd(0, Int32(EFD_NONBLOCK) | Int32(EFD_CLOEXEC))
        guard wake >= 0 else {
            let code = Platform.errno
            _ = Glibc.close(ep)
            throw SocketError.from(SystemCallFailure(syscall: "eventfd", errno: code))
        }
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.fd = wake
        guard epoll_ctl(ep, EPOLL_CTL_ADD, wake, &event) == 0 else {
            let code = Platform.errno
            _ = Glibc.close(ep)
            _ = Glibc.close(wake)
            throw SocketError.from(SystemCallFailure(syscall: "epoll_ctl", target: "ADD eventfd", errno: code))
        }
        epollFD = ep
        wakeFD = wake
        events = .allocate(capacity: maxEventsPerWait)
    }

    deinit {
        events.deallocate()
    }

    func arm(_ fd: Int32, for interest: Interest) throws(SocketError) {
        var event = epoll_event()
        event.events = EPOLLONESHOT.rawValue
        // RDHUP (peer sent FIN) is reported as "readable", so ask for it only for readers: a
        // writer armed with it would be woken, re-armed and woken again without end.
        if interest.contains(.readable) { event.events |= EPOLLIN.rawValue | EPOLLRDHUP.rawValue }
        if interest.contains(.writable) { event.events |= EPOLLOUT.rawValue }
        event.data.fd = fd
        // MOD first: after the first arm a descriptor stays registered (disabled) until forgotten.
        if epoll_ctl(epollFD, EPOLL_CTL_MOD, fd, &event) == 0 { return }
        let code = Platform.errno
        guard code == ENOENT else {
            throw SocketError.from(SystemCallFailure(syscall: "epoll_ctl", target: "MOD fd \(fd)", errno: code))
        }
        guard epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event) == 0 else {
            throw SocketError.from(
                SystemCallFailure(syscall: "epoll_ctl", target: "ADD fd \(fd)", errno: Platform.errno))
        }
    }

    func forget(_ fd: Int32) {
        // ENOENT (never armed) and EBADF (already closed) are both fine: the goal is "not registered".
        _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, nil)
    }

    func wait(timeoutMilliseconds: Int32, _ body: (Int32, Interest) -> Void) throws(SocketError) {
        let count = epoll_wait(epollFD, events.baseAddress, Int32(events.count), timeoutMilliseconds)
        if count < 0 {
            let code = Platform.errno
            if code == EINTR { return }
            throw SocketError.from(SystemCallFailure(syscall: "epoll_wait", errno: code))
        }
        for i in 0..<Int(count) {
            let event = events[i]
            let fd = event.data.fd
            if fd == wakeFD {
                var value: UInt64 = 0
                _ = Glibc.read(wakeFD, &value, MemoryLayout<UInt64>.size)
                continue
            }
            // Errors and hang-ups wake both directions: the retried syscall reports what happened.
            var ready: Interest = []
            let failure = EPOLLERR.rawValue | EPOLLHUP.rawValue
            if event.events & (EPOLLIN.rawValue | EPOLLRDHUP.rawValue | failure) != 0 { ready.insert(.readable) }
            if event.events & (EPOLLOUT.rawValue | failure) != 0 { ready.insert(.writable) }
            body(fd, ready)
        }
    }

    func wakeup() {
        var one: UInt64 = 1
        _ = Glibc.write(wakeFD, &one, MemoryLayout<UInt64>.size)
    }

    func close() {
        _ = Glibc.close(wakeFD)
        _ = Glibc.close(epollFD)
    }
}
#endif
