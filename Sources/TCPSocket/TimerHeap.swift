/// A min-heap of timers keyed by due time. Cancelling removes the id from `pending`; the
/// entry itself is dropped lazily when it reaches the top, so cancel is O(1).
struct TimerHeap {
    private struct Entry {
        let due: ContinuousClock.Instant
        let id: UInt64
        let action: () -> Void
    }
    private var heap: [Entry] = []
    private var pending: Set<UInt64> = []

    var nextDue: ContinuousClock.Instant? {
        mutating get {
            while let top = heap.first, !pending.contains(top.id) { popTop() }
            return heap.first?.due
        }
    }

    mutating func insert(id: UInt64, due: ContinuousClock.Instant, action: @escaping () -> Void) {
        pending.insert(id)
        heap.append(Entry(due: due, id: id, action: action))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].due < heap[parent].due else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func cancel(_ id: UInt64) {
        pending.remove(id)
        // Most timers guard waits that finish early; drop the dead entries in bulk once they
        // outnumber the live ones, so a busy server's heap stays the size of its live timers.
        if heap.count > 1024 && pending.count * 2 < heap.count {
            heap.removeAll { !pending.contains($0.id) }
            for start in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(from: start) }
        }
    }

    /// Removes and returns the actions of every live timer due at `now`, earliest first.
    /// The caller runs them after this returns (an action may schedule or cancel timers).
    mutating func takeDue(now: ContinuousClock.Instant) -> [() -> Void] {
        var due: [() -> Void] = []
        while let top = heap.first, top.due <= now {
            popTop()
            if pending.remove(top.id) != nil { due.append(top.action) }
        }
        return due
    }

    private mutating func popTop() {
        heap.swapAt(0, heap.count - 1)
        heap.removeLast()
        siftDown(from: 0)
    }

    private mutating func siftDown(from start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < heap.count, heap[left].due < heap[smallest].due { smallest = left }
            if right < heap.count, heap[right].due < heap[smallest].due { smallest = right }
            if smallest == parent { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
