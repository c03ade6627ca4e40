#if NETLAB_POSTGRES
import Foundation
import Glibc
import Synchronization
import TCPSocket

/// One gateway instance among several on a PostgreSQL database: its identity, its liveness,
/// its turn at the timers, and the news it hears from the others.
///
/// Theory of operation. The instance keeps a connection of its own (a *session*) for as long
/// as it runs; everything here rides on that session, because PostgreSQL ends a session the
/// moment its process dies — a SIGKILL closes the socket and the server releases what it held.
/// - **Identity.** At start the instance takes a number from `gateway_instances` (a sequence:
///   never reused) and holds the session advisory lock `(instanceClass, number)`. Transactions
///   it reserves or moves carry its number (`owner`). "Is instance 7 alive?" is "is lock 7
///   held?", which `pg_locks` answers exactly: no heartbeat, no timeout to tune.
/// - **Recovery.** A charge in a step with a call in flight is in doubt only when its owner's
///   lock is free: the instance that runs it is gone. A live instance's charges are left alone.
/// - **Timers.** The turn is the advisory lock `timers`, tried (never waited for) before each
///   pass. Its holder keeps it until it dies; then the next instance to try gets it.
/// - **Merchants.** Saving or removing a merchant sends `NOTIFY netlab_merchants` in the same
///   transaction; every instance `LISTEN`s on its session, and a thread waiting on the
///   session's socket drops the merchant cache when the news arrives (at commit, not within a
///   cache's lifetime).
/// - **A broken session** (the server restarted) loses all three: the instance reconnects,
///   takes a new number and listens again. Its charges under the old number may then be
///   abandoned by the timers' holder — the ledger refuses the late outcome and the bank's side
///   is reversed, as for any charge cut off (money is never doubled).
public final class PostgresInstance: InstanceCoordinator, @unchecked Sendable {
    private let url: String
    private let lock = NSLock()
    /// Touched only under `lock`.
    private var session: PostgresConnection
    /// Read by every reserve and change (`owner`): never behind the lock, which a database
    /// round trip may hold.
    private let number: Atomic<Int64>
    private var holdsTimers = false
    private var handlers: [@Sendable () -> Void] = []
    private var stopped = false
    private let waker: (read: Int32, write: Int32)
    private var listener: Thread?

    /// The channel merchant changes are announced on.
    static let merchantsChannel = "netlab_merchants"

    /// Registers a new instance on the database at `url` (whose schema is migrated: see
    /// ``PostgresGatewayStore``) and starts listening.
    public init(url: String) throws {
        self.url = url
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw PostgresError(kind: .connection, sqlState: "", message: "pipe: errno \(errno)", statement: "instance") }
        waker = (fds[0], fds[1])
        let (session, number) = try Self.register(url: url)
        self.session = session
        self.number = Atomic(number)
        let thread = Thread { [weak self] in self?.listen() }
        thread.name = "netlab-pg-instance"
        listener = thread
        thread.start()
    }

    deinit {
        close(waker.read)
        close(waker.write)
    }

    /// This instance's number (what `owner` holds for its transactions).
    public var id: Int64 { number.load(ordering: .acquiring) }

    private static func register(url: String) throws -> (PostgresConnection, Int64) {
        let session = try PostgresConnection(url: url)
        guard let number = try session.execute("INSERT INTO gateway_instances (started_at, pid) VALUES (now(), $1) RETURNING id",
                                               [.integer(Int64(getpid()))]).first?[0].integer else {
            throw PostgresError(kind: .decoding, sqlState: "", message: "no instance number", statement: "register")
        }
        try session.execute("SELECT pg_advisory_lock($1::int4, $2::int4)", [.integer(Int64(PostgresLocks.instanceClass)), .integer(number)])
        try session.execute("LISTEN \(merchantsChannel)")
        return (session, number)
    }

    public func holdsTimerTurn() -> Bool {
        lock.withLock {
            guard !stopped else { return false }
            if holdsTimers && session.isHealthy { return true }
            holdsTimers = false
            guard reconnectIfBroken() else { return false }
            let rows = try? session.execute("SELECT pg_try_advisory_lock($1)", [.integer(PostgresLocks.timers)])
            holdsTimers = rows?.first?[0].integer == 1
            return holdsTimers
        }
    }

    public var isVisible: Bool { lock.withLock { !stopped && session.isHealthy } }

    public func onMerchantsChanged(_ handler: @escaping @Sendable () -> Void) {
        lock.withLock { handlers.append(handler) }
    }

    /// Gives the instance up: its locks are released (another instance takes the timers' turn
    /// at once) and its thread ends.
    public func stop() {
        lock.withLock {
            stopped = true
            _ = try? session.execute("SELECT pg_advisory_unlock_all()")
        }
        _ = write(waker.write, [UInt8(1)], 1)
        while let thread = lock.withLock({ listener }), !thread.isFinished { usleep(1000) }
    }

    /// Under `lock`: a session that broke is made again (new number, listening again).
    private func reconnectIfBroken() -> Bool {
        if session.isHealthy { return true }
        guard let (fresh, newNumber) = try? Self.register(url: url) else { return false }
        (session, holdsTimers) = (fresh, false)
        number.store(newNumber, ordering: .releasing)
        // What happened while away is unknown: the merchants may have changed.
        for handler in handlers { handler() }
        return true
    }

    /// The listener thread: waits on the session's socket and hands news to the handlers.
    private func listen() {
        while true {
            let socket: Int32 = lock.withLock { stopped ? -1 : session.socket }
            guard socket >= 0 || !lock.withLock({ stopped }) else { break }
            var fds = [pollfd(fd: socket, events: Int16(POLLIN), revents: 0), pollfd(fd: waker.read, events: Int16(POLLIN), revents: 0)]
            _ = poll(&fds, 2, 1000)
            if fds[1].revents != 0 || lock.withLock({ stopped }) { break }
            let news: [@Sendable () -> Void] = lock.withLock {
                guard reconnectIfBroken(), let channels = try? session.notifications() else { return [] }
                return channels.contains(Self.merchantsChannel) ? handlers : []
            }
            for handler in news { handler() }
        }
        lock.withLock { listener = nil }
    }
}
#endif
