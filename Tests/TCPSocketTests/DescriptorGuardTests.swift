import Dispatch
import Synchronization
import Testing

@testable import TCPSocket

/// Closing a descriptor while another thread uses it must neither leave that thread waiting
/// nor free the descriptor's number before the thread is done with it (see DescriptorGuard).
@Suite("Closing while in use", .timeLimit(.minutes(3)))
struct DescriptorGuardTests {
    @Test("the guard: close while idle releases now; otherwise the last operation out releases, once")
    func guardAccounting() {
        let idle = DescriptorGuard()
        #expect(idle.close() == (first: true, idle: true))
        #expect(idle.close() == (first: false, idle: false))
        #expect(!idle.enter())

        let busy = DescriptorGuard()
        #expect(busy.enter())
        #expect(busy.enter())
        #expect(busy.close() == (first: true, idle: false))
        #expect(!busy.enter())  // no new operation after close
        #expect(!busy.leave())  // one still in flight
        #expect(busy.leave())  // the last one out releases
    }

    @Test("the guard under contention: exactly one release, never while an operation is inside")
    func guardContention() async {
        final class Tally: Sendable {
            let releases = Atomic<Int>(0)
            let inside = Atomic<Int>(0)
            let releasedWhileInside = Atomic<Bool>(false)
            func release() {
                if inside.load(ordering: .sequentiallyConsistent) != 0 {
                    releasedWhileInside.store(true, ordering: .relaxed)
                }
                releases.add(1, ordering: .relaxed)
            }
        }
        for round in 0..<200 {
            let access = DescriptorGuard()
            let tally = Tally()
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        for _ in 0..<50 where access.enter() {
                            tally.inside.add(1, ordering: .sequentiallyConsistent)
                            tally.inside.subtract(1, ordering: .sequentiallyConsistent)
                            if access.leave() { tally.release() }
                        }
                    }
                }
                group.addTask {
                    let (first, idle) = access.close()
                    if first && idle { tally.release() }
                }
            }
            let releases = tally.releases.load(ordering: .relaxed)
            let early = tally.releasedWhileInside.load(ordering: .relaxed)
            #expect(releases == 1, "round \(round)")
            #expect(!early, "round \(round)")
        }
    }

    @Test("closing a blocking connection from another thread wakes its reader with closed")
    func blockingReaderWoken() async throws {
        let (a, b) = try SocketPair.makeConnections()
        let reader = BackgroundThread { () -> SocketError? in
            do throws(SocketError) {
                _ = try a.read(deadline: .after(.seconds(20)))
                return nil
            } catch {
                return error
            }
        }
        try await Task.sleep(for: .milliseconds(100))  // the reader is in poll(2) by now
        let start = ContinuousClock.now
        a.close()
        let error = try await reader.value()
        #expect(error == .closed(operation: "read"))
        #expect(ContinuousClock.now - start < .seconds(10))  // woken, not timed out
        // The peer sees the connection end.
        #expect(try b.read(deadline: .after(.seconds(5))) == nil)
        b.close()
    }

    @Test("closing a blocking listener from another thread wakes its accept with closed")
    func blockingAcceptWoken() async throws {
        let listener = try TCPListener(host: "127.0.0.1", port: 0)
        let acceptor = BackgroundThread { () -> SocketError? in
            do throws(SocketError) {
                _ = try listener.accept(deadline: .after(.seconds(20)))
                return nil
            } catch {
                return error
            }
        }
        try await Task.sleep(for: .milliseconds(100))
        listener.close()
        #expect(try await acceptor.value() == .closed(operation: "accept"))
    }

    @Test("closing a loop connection while another task reads it: the read fails with closed, the peer sees the end")
    func asyncReaderWoken() async throws {
        let (a, b) = try SocketPair.makeStreams()
        let reader = Task { () -> (any Error)? in
            var buffer: [UInt8] = []
            do {
                _ = try await a.read(into: &buffer, maxBytes: 16, deadline: .after(.seconds(20)))
                return nil
            } catch {
                return error
            }
        }
        try await Task.sleep(for: .milliseconds(100))
        await a.close()
        let error = await reader.value
        #expect(error as? SocketError == .closed(operation: "read"))
        var buffer: [UInt8] = []
        #expect(try await b.read(into: &buffer, maxBytes: 16, deadline: .after(.seconds(5))) == .endOfStream)
        await b.close()
    }
}
