/// What a waiter wants to hear about a descriptor.
struct Interest: OptionSet, Hashable, Sendable {
    let rawValue: UInt8
    static let readable = Interest(rawValue: 1)
    static let writable = Interest(rawValue: 2)
}

/// The kernel readiness mechanism under an ``EventLoop`` (epoll on Linux, poll elsewhere).
///
/// Call order: every method but ``wakeup()`` is called only on the loop's own thread.
/// Arming is one-shot: once a descriptor has been reported it stays quiet until armed again.
protocol Selector: AnyObject {
    /// Asks for one report when `fd` becomes ready for `interest` (replacing any earlier arming).
    func arm(_ fd: Int32, for interest: Interest) throws(SocketError)
    /// Stops watching `fd`; must be called before the descriptor is closed.
    func forget(_ fd: Int32)
    /// Blocks up to `timeoutMilliseconds` (-1: no limit) and calls `body` once per ready descriptor.
    func wait(timeoutMilliseconds: Int32, _ body: (Int32, Interest) -> Void) throws(SocketError)
    /// Makes a current or the next ``wait(timeoutMilliseconds:_:)`` return. Safe from any thread.
    func wakeup()
    /// Releases the selector's own descriptors.
    func close()
}
