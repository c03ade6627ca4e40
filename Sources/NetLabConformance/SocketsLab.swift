import Foundation
import TCPSocket

/// Lab 1's seam: an echo client and server on NetLab's socket API — first blocking
/// (``TCPConnection``, ``TCPListener``), then many clients at once on the readiness loop
/// (``AsyncTCPListener``).
public protocol EchoLab: Sendable {
    /// Connects to `address`, sends all of `message`, closes its writing side (the peer then
    /// reads end-of-stream), reads until end of stream, and returns what came back.
    func echoClient(to address: SocketAddress, message: [UInt8]) throws -> [UInt8]
    /// Accepts one connection on `listener` and sends back every byte it reads, until the
    /// client closes its side; then closes the connection and returns.
    func serveOne(on listener: TCPListener) throws
    /// Serves every connection `listener` accepts, all at the same time, echoing each, until the
    /// task is cancelled.
    func serveMany(on listener: AsyncTCPListener) async throws
}

/// NetLab's own echo: what lab 1's checks are measured against (and pass with).
public struct ReferenceEcho: EchoLab {
    public init() {}

    public func echoClient(to address: SocketAddress, message: [UInt8]) throws -> [UInt8] {
        let connection = try TCPConnection.connect(to: address, timeout: .seconds(5))
        defer { connection.close() }
        // Read while writing: a large message would otherwise fill both socket buffers and stall.
        let reader = ResultThread { () throws -> [UInt8] in
            var received: [UInt8] = []
            while case .bytes = try connection.read(into: &received, maxBytes: 65536) {}
            return received
        }
        try connection.write(message)
        try connection.shutdown(.write)
        return try reader.value()
    }

    public func serveOne(on listener: TCPListener) throws {
        let connection = try listener.accept()
        defer { connection.close() }
        var buffer: [UInt8] = []
        while case .bytes = try connection.read(into: &buffer, maxBytes: 65536) {
            try connection.write(buffer)
            buffer.removeAll(keepingCapacity: true)
        }
    }

    public func serveMany(on listener: AsyncTCPListener) async throws {
        try await listener.serve { connection in
            var buffer: [UInt8] = []
            while case .bytes = try await connection.read(into: &buffer, maxBytes: 65536) {
                try await connection.write(buffer)
                buffer.removeAll(keepingCapacity: true)
            }
        }
    }
}

/// A value computed on a thread of its own (the reference client reads while it writes).
final class ResultThread<T: Sendable>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var result: Result<T, any Error>?

    init(_ body: @escaping @Sendable () throws -> T) {
        Thread { [self] in
            result = Result { try body() }
            done.signal()
        }.start()
    }

    func value() throws -> T {
        done.wait()
        return try result!.get()
    }
}

/// Lab 1's checks.
public enum SocketsLab {
    public static let name = LabText(en: "Sockets: an echo client and server", id: "Socket: klien dan server echo")

    public static func suite(_ echo: some EchoLab) -> LabSuite {
        LabSuite(number: 1, name: name, steps: [
            LabStep("1.1", LabText(en: "echoClient: a short message comes back unchanged from a working echo server",
                                   id: "echoClient: pesan pendek kembali utuh dari server echo yang benar")) {
                try await clientCheck(echo, message: Array("halo, NetLab\n".utf8))
            },
            LabStep("1.2", LabText(en: "echoClient: 32 MiB (far more than the socket buffers hold) comes back whole",
                                   id: "echoClient: 32 MiB (jauh lebih besar dari buffer socket) kembali utuh")) {
                // Loopback buffers grow to a few MiB each way: 32 MiB cannot fit, so a client that
                // writes everything before reading anything stops for good.
                try await clientCheck(echo, message: labBytes(count: 32 << 20, seed: 12))
            },
            LabStep("1.3", LabText(en: "serveOne: echoes a short message, then returns when the client closes",
                                   id: "serveOne: memantulkan pesan pendek, lalu selesai saat klien menutup")) {
                try await serverCheck(echo, message: Array("selamat pagi\n".utf8))
            },
            LabStep("1.4", LabText(en: "serveOne: echoes 1 MiB that arrives in pieces of every size",
                                   id: "serveOne: memantulkan 1 MiB yang datang dalam potongan berbagai ukuran")) {
                try await serverCheck(echo, message: labBytes(count: 1 << 20, seed: 14))
            },
            LabStep("1.5", LabText(en: "serveMany: 100 clients at once, each gets exactly its own bytes back",
                                   id: "serveMany: 100 klien sekaligus, masing-masing menerima kembali byte miliknya sendiri")) {
                try await manyCheck(echo, clients: 100, idleFirst: false)
            },
            LabStep("1.6", LabText(en: "serveMany: a client that sends nothing does not hold up the others",
                                   id: "serveMany: klien yang tidak mengirim apa pun tidak menghambat klien lain")) {
                try await manyCheck(echo, clients: 10, idleFirst: true)
            },
        ])
    }

    static func clientCheck(_ echo: some EchoLab, message: [UInt8]) async throws {
        let listener = try TCPListener(bindingTo: .ipv4Loopback(port: 0))
        let server = ResultThread { try ReferenceEcho().serveOne(on: listener) }
        let got: [UInt8]
        do {
            got = try await runBlocking(limit: .seconds(15), what: LabText(en: "echoClient", id: "echoClient")) {
                try echo.echoClient(to: listener.localAddress, message: message)
            }
        } catch let failure as LabFailure where failure.message.en.contains("did not finish") {
            listener.close()
            throw LabFailure(failure.message, hint: LabText(
                en: "if you write everything before reading, both sides' buffers fill and nobody moves: read on another thread while you write",
                id: "jika Anda menulis semuanya sebelum membaca, buffer kedua sisi penuh dan tidak ada yang bergerak: baca di thread lain selagi menulis"))
        }
        // Closing the listener wakes a server still waiting in accept() (a client that never connected).
        listener.close()
        try? server.value()
        guard got == message else {
            throw LabFailure(LabText(en: "echoClient returned other bytes than it sent", id: "echoClient mengembalikan byte yang berbeda dari yang dikirim"),
                             evidence: firstDifference(message, got),
                             hint: LabText(en: "write all the bytes, shutdown(.write), and read until .endOfStream — reading while you write",
                                           id: "tulis semua byte, shutdown(.write), dan baca sampai .endOfStream — sambil menulis"))
        }
    }

    static func serverCheck(_ echo: some EchoLab, message: [UInt8]) async throws {
        let listener = try TCPListener(bindingTo: .ipv4Loopback(port: 0))
        let address = listener.localAddress
        let served = Task {
            try await runBlocking(limit: .seconds(15), what: LabText(en: "serveOne", id: "serveOne")) { try echo.serveOne(on: listener) }
        }
        // The reference client, writing in uneven pieces while it reads.
        async let client: [UInt8] = runBlocking(limit: .seconds(15), what: LabText(en: "the checking client", id: "klien penguji")) { () throws -> [UInt8] in
            let connection = try TCPConnection.connect(to: address, timeout: .seconds(5))
            defer { connection.close() }
            let reader = ResultThread { () throws -> [UInt8] in
                var received: [UInt8] = []
                while case .bytes = try connection.read(into: &received, maxBytes: 65536, deadline: .after(.seconds(10))) {}
                return received
            }
            var offset = 0, size = 1
            while offset < message.count {
                let end = min(message.count, offset + size)
                try connection.write(message[offset..<end])
                offset = end
                size = size * 7 % 65521 + 1
            }
            try connection.shutdown(.write)
            return try reader.value()
        }
        // The server's own failure first (a server that gave up explains more than a client
        // left waiting).
        do {
            try await served.value
        } catch {
            listener.close()
            throw error
        }
        let got = try await client
        listener.close()
        guard got == message else {
            throw LabFailure(LabText(en: "the client got other bytes back than it sent", id: "klien menerima byte yang berbeda dari yang dikirim"),
                             evidence: firstDifference(message, got),
                             hint: LabText(en: "write back exactly the bytes each read returned — read may return fewer than asked for",
                                           id: "tulis kembali persis byte yang dikembalikan setiap read — read bisa mengembalikan lebih sedikit dari yang diminta"))
        }
    }

    static func manyCheck(_ echo: some EchoLab, clients: Int, idleFirst: Bool) async throws {
        let listener = try AsyncTCPListener(host: "127.0.0.1", port: 0)
        let address = listener.localAddress
        let server = Task { try await echo.serveMany(on: listener) }
        defer { server.cancel() }
        var idle: AsyncTCPConnection?
        if idleFirst { idle = try await AsyncTCPConnection.connect(to: address, timeout: .seconds(5)) }
        // The clients, raced against the server: a server that stops (or never starts) is
        // reported as itself, not as ten seconds of clients waiting.
        let results = try await withThrowingTaskGroup(of: [(Int, Bool)].self) { outer in
            outer.addTask {
                do {
                    try await server.value
                } catch is CancellationError {
                    return []
                }
                throw LabFailure(LabText(en: "serveMany returned while clients were still connecting; it must serve until cancelled",
                                         id: "serveMany selesai padahal klien masih menyambung; ia harus melayani sampai dibatalkan"))
            }
            outer.addTask { try await Self.clients(clients, address: address) }
            defer { outer.cancelAll() }
            // Either way, stop the server (cancelled, its listener closed: clients still in the
            // backlog are reset) so the group ends at once.
            do {
                let first = try await outer.next()!
                server.cancel()
                await listener.close()
                return first
            } catch {
                server.cancel()
                await listener.close()
                throw error
            }
        }
        await idle?.close()
        let wrong = results.filter { !$0.1 }.map(\.0).sorted()
        guard wrong.isEmpty else {
            throw LabFailure(LabText(en: "\(wrong.count) of \(clients) clients got wrong bytes back (clients \(wrong.prefix(10)))",
                                     id: "\(wrong.count) dari \(clients) klien menerima byte yang salah (klien \(wrong.prefix(10)))"),
                             hint: LabText(en: "each connection needs its own buffer; do not share state between connections",
                                           id: "setiap koneksi butuh buffer sendiri; jangan berbagi state antar koneksi"))
        }
    }

    /// `count` clients at once, each sending its own bytes and reading them back.
    static func clients(_ count: Int, address: SocketAddress) async throws -> [(Int, Bool)] {
        try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
            for client in 0..<count {
                group.addTask {
                    let message = labBytes(count: 16 * 1024 + client, seed: UInt64(100 + client))
                    do {
                        let connection = try await AsyncTCPConnection.connect(to: address, timeout: .seconds(5))
                        let deadline = Deadline.after(.seconds(10))
                        async let received: [UInt8] = {
                            var bytes: [UInt8] = []
                            while case .bytes = try await connection.read(into: &bytes, maxBytes: 65536, deadline: deadline) {}
                            return bytes
                        }()
                        try await connection.write(message, deadline: deadline)
                        try await connection.shutdownWrite()
                        let ok = try await received == message
                        await connection.close()
                        return (client, ok)
                    } catch {
                        throw LabFailure(
                            LabText(en: "client \(client) got no complete echo within 10 s (\(error))", id: "klien \(client) tidak mendapat pantulan lengkap dalam 10 detik (\(error))"),
                            hint: LabText(en: "serve each connection in its own task (listener.serve does that): one waiting client must not block the others",
                                          id: "layani setiap koneksi dalam task-nya sendiri (listener.serve melakukannya): satu klien yang menunggu tidak boleh menghambat yang lain"))
                    }
                }
            }
            var results: [(Int, Bool)] = []
            for try await result in group { results.append(result) }
            return results
        }
    }
}
