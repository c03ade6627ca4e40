import Synchronization

/// "Has this descriptor been closed?", shareable with the event loop, which checks it before
/// registering a wait so a wait can never land on a descriptor closed (or reused) meanwhile.
final class ClosedFlag: Sendable {
    private let closed = Atomic<Bool>(false)

    var isSet: Bool { closed.load(ordering: .acquiring) }

    /// Sets the flag; true if this call set it (false if it was already set).
    func set() -> Bool { !closed.exchange(true, ordering: .acquiringAndReleasing) }

    /// A check for ``EventLoop/waitUntilReady(_:for:deadline:operation:target:isClosed:)``.
    var check: @Sendable () -> Bool { { [self] in isSet } }
}
