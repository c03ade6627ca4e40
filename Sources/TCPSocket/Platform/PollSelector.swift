// poll(2): the portable readiness mechanism (macOS today; also built and tested on Linux).
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Waits with `poll`, rebuilding the descriptor list from the armed set before each wait.
///
/// O(armed descriptors) per wait where epoll is O(ready descriptors): fine for labs and for
/// platforms without epoll; the epoll selector is the one to use for 10,000 connections.
/// Arming is one-shot, as in ``EpollSelector``: a descriptor leaves the armed set when it fires.
final class PollSelector: Selector {
    private var armed: [Int32: Interest] = [:]
    private var pollFDs: [pollfd] = []
    /// A self-pipe: writing a byte to `wakeWrite` makes a `poll` on `wakeRead` return.
    private let wakeRead: Int32
    private let wakeWrite: Int32

    init() throws(SocketError) {
        var fds: [Int32] = [0, 0]
        guard Platform.socketPair(&fds) == 0 else {
            throw SocketError.from(SystemCallFailure(syscall: "socketpair", errno: Platform.errno))
        }
        wakeRead = fds[0]
        wakeWrite = fds[1]
    }

    func arm(_ fd: Int32, for interest: Interest) throws(SocketError) {
        armed[fd] = interest
    }

    func forget(_ fd: Int32) {
        armed[fd] = nil
    }

    func wait(timeoutMilliseconds: Int32, _ body: (Int32, Interest) -> Void) throws(SocketError) {
        pollFDs.removeAll(keepingCapacity: true)
        pollFDs.append(pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0))
        for (fd, interest) in armed {
            var events: Int16 = 0
            if interest.contains(.readable) { events |= Int16(POLLIN) }
            if interest.contains(.writable) { events |= Int16(POLLOUT) }
            pollFDs.append(pollfd(fd: fd, events: events, revents: 0))
        }
        let count = poll(&pollFDs, nfds_t(pollFDs.count), timeoutMilliseconds)
        if count < 0 {
            let code = Platform.errno
            if code == EINTR { return }
            throw SocketError.from(SystemCallFailure(syscall: "poll", errno: code))
        }
        if pollFDs[0].revents != 0 {
            var drain = [UInt8](repeating: 0, count: 64)
            _ = Platform.recv(wakeRead, &drain, drain.count)
        }
        let failure = Int16(POLLERR) | Int16(POLLHUP) | Int16(POLLNVAL)
        for entry in pollFDs.dropFirst() where entry.revents != 0 {
            var ready: Interest = []
            if entry.revents & (Int16(POLLIN) | failure) != 0 { ready.insert(.readable) }
            if entry.revents & (Int16(POLLOUT) | failure) != 0 { ready.insert(.writable) }
            armed[entry.fd] = nil
            body(entry.fd, ready)
        }
    }

    func wakeup() {
        var one: UInt8 = 1
        _ = Platform.send(wakeWrite, &one, 1)
    }

    func close() {
        _ = Platform.close(wakeRead)
        _ = Platform.close(wakeWrite)
    }
}
