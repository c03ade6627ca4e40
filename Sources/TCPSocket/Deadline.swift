/// The point in time by which an operation must finish, or ``never``.
///
/// Every blocking or awaited operation in this layer takes one, so a stalled peer produces
/// ``SocketError/timedOut(operation:target:limit:)`` instead of a hang. Deadlines use the
/// monotonic `ContinuousClock`, so changing the wall clock cannot stretch or shrink a wait.
public struct Deadline: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// When the deadline passes; `nil` for ``never``.
    public let instant: ContinuousClock.Instant?
    /// The time budget it was made from, reported in timeout errors.
    public let limit: Duration

    /// No deadline: wait as long as it takes.
    public static let never = Deadline(instant: nil, limit: .zero)

    /// A deadline `duration` from now.
    public static func after(_ duration: Duration) -> Deadline {
        Deadline(instant: .now + duration, limit: duration)
    }

    /// A deadline at `instant`; `limit` is the budget it stands for (reported in timeout errors).
    public static func at(_ instant: ContinuousClock.Instant, limit: Duration) -> Deadline {
        Deadline(instant: instant, limit: limit)
    }

    /// `after(duration)` when a duration is given, ``never`` for `nil`.
    public static func after(_ duration: Duration?) -> Deadline {
        duration.map { after($0) } ?? .never
    }

    public var hasPassed: Bool {
        guard let instant else { return false }
        return ContinuousClock.now >= instant
    }

    /// Milliseconds left, rounded up so a wait never ends before the deadline:
    /// -1 for ``never`` (poll's "no limit"), 0 once it has passed.
    var remainingMilliseconds: Int32 {
        guard let instant else { return -1 }
        let left = instant - ContinuousClock.now
        if left <= .zero { return 0 }
        let (seconds, attoseconds) = left.components
        let millis = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: millis)
    }

    public static func < (a: Deadline, b: Deadline) -> Bool {
        switch (a.instant, b.instant) {
        case (nil, _): return false
        case (_, nil): return true
        case (let x?, let y?): return x < y
        }
    }

    public var description: String { instant == nil ? "never" : "within \(limit)" }
}
