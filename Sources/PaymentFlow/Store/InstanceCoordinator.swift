/// What gateway instances sharing one store need of each other: whose turn it is to run the
/// timers, and news that the merchants changed (their keys are cached; see
/// ``MerchantDirectory``).
///
/// One gateway on its SQLite file is alone (``SoleInstance``). Instances on PostgreSQL
/// coordinate through it (``PostgresInstance``): a session advisory lock for the timers' turn
/// and `LISTEN`/`NOTIFY` for the merchants.
public protocol InstanceCoordinator: Sendable {
    /// Whether this instance runs the timers now. At most one instance at a time answers true;
    /// when it dies, another does within a pass. (Each timer's change is also one atomic,
    /// claimed step: a second runner could find nothing left to do, never do a thing twice.)
    func holdsTimerTurn() -> Bool
    /// Runs `handler` whenever another instance changes the merchants.
    func onMerchantsChanged(_ handler: @escaping @Sendable () -> Void)
    /// Whether the others can see this instance alive (its session holds its liveness): one
    /// that is not must not take requests — its charges could be taken for a dead instance's.
    var isVisible: Bool { get }
}

/// The only gateway instance on its store: every turn is its own, and nobody else changes
/// the merchants (a `netlab gateway merchant` command on the same file is seen through the
/// directory's short cache).
public struct SoleInstance: InstanceCoordinator {
    public init() {}
    public func holdsTimerTurn() -> Bool { true }
    public func onMerchantsChanged(_ handler: @escaping @Sendable () -> Void) {}
    public var isVisible: Bool { true }
}
