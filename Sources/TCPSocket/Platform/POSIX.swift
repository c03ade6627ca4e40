// The parts of the POSIX API that are spelled the same on Linux and Darwin: errno names and
// classes, and the thread identity the readiness loop compares against.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Platform {
    /// `strerror(errno)` as a Swift string.
    static func errorMessage(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "unknown error \(code)" }
        return String(cString: text)
    }

    /// The symbolic names of the errno values a student meets in this layer.
    static func errnoName(_ code: Int32) -> String? {
        switch code {
        case ECONNREFUSED: return "ECONNREFUSED"
        case ECONNRESET: return "ECONNRESET"
        case ECONNABORTED: return "ECONNABORTED"
        case EPIPE: return "EPIPE"
        case EADDRINUSE: return "EADDRINUSE"
        case EADDRNOTAVAIL: return "EADDRNOTAVAIL"
        case ENETUNREACH: return "ENETUNREACH"
        case EHOSTUNREACH: return "EHOSTUNREACH"
        case ETIMEDOUT: return "ETIMEDOUT"
        case EMFILE: return "EMFILE"
        case ENFILE: return "ENFILE"
        case EAGAIN: return "EAGAIN"
        case EINPROGRESS: return "EINPROGRESS"
        case EINTR: return "EINTR"
        case EBADF: return "EBADF"
        case EINVAL: return "EINVAL"
        case ENOTCONN: return "ENOTCONN"
        case EACCES: return "EACCES"
        case EAFNOSUPPORT: return "EAFNOSUPPORT"
        case ENOBUFS: return "ENOBUFS"
        case ENOMEM: return "ENOMEM"
        default: return nil
        }
    }

    /// How ``SocketError`` sorts an errno into its cases.
    enum ErrnoClass {
        case connectionRefused, connectionReset, brokenPipe, addressInUse, addressNotAvailable
        case unreachable, tooManyOpenFiles, timedOut, other

        init(_ code: Int32) {
            switch code {
            case ECONNREFUSED: self = .connectionRefused
            case ECONNRESET, ECONNABORTED: self = .connectionReset
            case EPIPE: self = .brokenPipe
            case EADDRINUSE: self = .addressInUse
            case EADDRNOTAVAIL: self = .addressNotAvailable
            case ENETUNREACH, EHOSTUNREACH: self = .unreachable
            case EMFILE, ENFILE: self = .tooManyOpenFiles
            case ETIMEDOUT: self = .timedOut
            default: self = .other
            }
        }
    }

    static func isWouldBlock(_ code: Int32) -> Bool { code == EAGAIN || code == EWOULDBLOCK }

    static func isOutOfMemory(_ code: Int32) -> Bool { code == ENOBUFS || code == ENOMEM }

    /// Errors accept(2) reports about one queued connection rather than about the listener.
    static func isTransientAcceptError(_ code: Int32) -> Bool {
        switch code {
        case ECONNABORTED, EPROTO, ENETDOWN, ENOPROTOOPT, EHOSTDOWN, EHOSTUNREACH, EOPNOTSUPP, ENETUNREACH:
            return true
        default:
            return false
        }
    }

    /// A number that identifies the calling OS thread (for "am I on the loop's thread?").
    static func currentThreadID() -> UInt {
        #if canImport(Darwin)
        return UInt(bitPattern: pthread_self())
        #else
        return UInt(pthread_self())
        #endif
    }
}
