#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The process's limit on open descriptors (`RLIMIT_NOFILE`): every socket is one. A server
/// sizes its connection cap from it, so that a flood of connections is refused before the
/// process runs out of descriptors for its own files, pipes and outgoing calls.
public enum OpenFileLimit {
    /// The current (soft) limit.
    public static var current: Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        return limit.rlim_cur > rlim_t(Int.max) ? Int.max : Int(limit.rlim_cur)
    }

    /// Raises the soft limit to the hard one (what a server process may do without privileges;
    /// the soft default of 1024 is a relic of `select`, which NetLab does not use). Returns the
    /// limit now in force.
    @discardableResult
    public static func raiseToMaximum() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return current }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        return current
    }
}
