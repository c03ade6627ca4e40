import Synchronization

/// Who may still use a descriptor, so that `close` can never free its number while another
/// thread is inside a system call on it.
///
/// Why: a descriptor number is reused by the very next `socket`/`accept`/`socketpair`. If one
/// thread closed fd 12 while another was between "is it open?" and `recv(12)`, that `recv`
/// would read from whichever new socket got number 12 — stealing another connection's bytes.
/// So every operation brackets its system calls with ``enter()``/``leave()``, and the number
/// is released (really closed) by whoever comes last: `close` itself when nothing is in
/// flight, otherwise the last operation to leave.
///
/// One atomic word: the top bit says "closed", the rest counts operations in flight.
final class DescriptorGuard: Sendable {
    private static let closedBit: UInt = 1 << (UInt.bitWidth - 1)
    private let state = Atomic<UInt>(0)

    /// Whether `close` has been called (operations in flight may still be finishing).
    var isSet: Bool { state.load(ordering: .acquiring) & Self.closedBit != 0 }

    /// Starts an operation; false (and nothing to undo) if the descriptor is closed.
    func enter() -> Bool {
        var current = state.load(ordering: .relaxed)
        while current & Self.closedBit == 0 {
            let (exchanged, original) = state.compareExchange(
                expected: current, desired: current + 1, ordering: .acquiringAndReleasing)
            if exchanged { return true }
            current = original
        }
        return false
    }

    /// Ends an operation. True when the caller must now release the descriptor: `close` was
    /// called meanwhile and this was the last operation in flight.
    func leave() -> Bool {
        state.subtract(1, ordering: .acquiringAndReleasing).newValue == Self.closedBit
    }

    /// Marks the descriptor closed. `first` is false if it already was (do nothing);
    /// `idle` is true when no operation is in flight, so the caller releases it now — otherwise
    /// the last operation's ``leave()`` will.
    func close() -> (first: Bool, idle: Bool) {
        let old = state.bitwiseOr(Self.closedBit, ordering: .acquiringAndReleasing).oldValue
        return (old & Self.closedBit == 0, old == 0)
    }

    /// A check for ``EventLoop/waitUntilReady(_:for:deadline:operation:target:isClosed:)``.
    var check: @Sendable () -> Bool { { [self] in isSet } }
}
