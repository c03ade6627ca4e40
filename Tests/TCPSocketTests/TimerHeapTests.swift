import Testing

@testable import TCPSocket

@Suite("TimerHeap")
struct TimerHeapTests {
    /// A heap holding timers 0…n-1 inserted in a shuffled (seeded) order, each due at `base + id` ms.
    static func heap(count: Int, seed: UInt64, fired: Locked<[UInt64]>, base: ContinuousClock.Instant) -> TimerHeap {
        var generator = SeededGenerator(defaultSeed: seed)
        var heap = TimerHeap()
        for id in (0..<UInt64(count)).shuffled(using: &generator) {
            heap.insert(id: id, due: base + .milliseconds(Int64(id))) { fired.withLock { $0.append(id) } }
        }
        return heap
    }

    @Test("due timers come out earliest first; cancelled ones never fire", arguments: [1, 2, 3] as [UInt64])
    func order(seed: UInt64) {
        let fired = Locked<[UInt64]>([])
        let base = ContinuousClock.now
        var heap = Self.heap(count: 50, seed: seed, fired: fired, base: base)
        for id in stride(from: 0, to: 50, by: 3) { heap.cancel(UInt64(id)) }
        #expect(heap.nextDue == base + .milliseconds(1), "seed \(seed): timer 0 was cancelled, 1 is next")
        for action in heap.takeDue(now: base + .milliseconds(24)) { action() }
        let expected = (1...24).filter { $0 % 3 != 0 }.map(UInt64.init)
        #expect(fired.withLock { $0 } == expected, "seed \(seed)")
        #expect(heap.nextDue == base + .milliseconds(25))
    }

    @Test("cancelling most of a large heap compacts it; the live timers still fire in order")
    func compaction() {
        let fired = Locked<[UInt64]>([])
        let base = ContinuousClock.now
        var heap = Self.heap(count: 3000, seed: 7, fired: fired, base: base)
        for id in 0..<2990 { heap.cancel(UInt64(id)) }
        #expect(heap.nextDue == base + .milliseconds(2990))
        for action in heap.takeDue(now: base + .seconds(10)) { action() }
        #expect(fired.withLock { $0 } == Array(2990..<3000))
        #expect(heap.nextDue == nil)
    }
}
