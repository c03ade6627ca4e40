import Foundation
import HTTPParser
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

/// Lab 1's checks.
public enum SocketsLab {
    public static let name = LabText(en: "Sockets: an echo client and server", id: "Socket: klien dan server echo")

    /// `patience`: how long a client of steps 1.5 and 1.6 waits for an answer, and for the other
    /// clients to have theirs (the kit's own tests shorten it: a serial server fails however long
    /// it is given).
    public static func suite(_ echo: some EchoLab, patience: Duration = .seconds(10)) -> LabSuite {
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
            LabStep("1.3", LabText(en: "serveOne: echoes a message sent in two pieces (the second sent once the first came back), then returns when the client closes",
                                   id: "serveOne: memantulkan pesan yang dikirim dalam dua potong (potong kedua dikirim setelah yang pertama kembali), lalu selesai saat klien menutup")) {
                try await piecesCheck(echo, pieces: [Array("selamat ".utf8), Array("pagi\n".utf8)])
            },
            LabStep("1.4", LabText(en: "serveOne: echoes 1 MiB that arrives in pieces of every size",
                                   id: "serveOne: memantulkan 1 MiB yang datang dalam potongan berbagai ukuran")) {
                try await serverCheck(echo, message: labBytes(count: 1 << 20, seed: 14))
            },
            LabStep("1.5", LabText(en: "serveMany: 100 clients at once — each answered while all are connected — and each gets exactly its own bytes back",
                                   id: "serveMany: 100 klien sekaligus — masing-masing dijawab selagi semuanya tersambung — dan masing-masing menerima kembali byte miliknya sendiri")) {
                try await manyCheck(echo, clients: 100, idleFirst: false, patience: patience)
            },
            LabStep("1.6", LabText(en: "serveMany: a client that sends nothing does not hold up the others",
                                   id: "serveMany: klien yang tidak mengirim apa pun tidak menghambat klien lain")) {
                try await manyCheck(echo, clients: 10, idleFirst: true, patience: patience)
            },
        ])
    }

    /// The checks' own peer for the client steps: echoes one connection (not a lab answer to
    /// copy: it never reads while it writes, which a server may do because the client reads).
    static func echoOne(on listener: TCPListener) throws {
        let connection = try listener.accept()
        defer { connection.close() }
        var buffer: [UInt8] = []
        while case .bytes = try connection.read(into: &buffer, maxBytes: 65536) {
            try connection.write(buffer)
            buffer.removeAll(keepingCapacity: true)
        }
    }

    static func clientCheck(_ echo: some EchoLab, message: [UInt8]) async throws {
        let listener = try TCPListener(bindingTo: .ipv4Loopback(port: 0))
        let server = LabThread { try Self.echoOne(on: listener) }
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

    /// A client that sends each piece only after the previous one came back: the pieces are
    /// separate reads for the server, whatever the timing (a server that never empties the buffer
    /// `read` appends to sends the first piece again, every time).
    static func piecesCheck(_ echo: some EchoLab, pieces: [[UInt8]]) async throws {
        let listener = try TCPListener(bindingTo: .ipv4Loopback(port: 0))
        let address = listener.localAddress
        let served = Task {
            try await runBlocking(limit: .seconds(15), what: LabText(en: "serveOne", id: "serveOne")) { try echo.serveOne(on: listener) }
        }
        let client: Task<[UInt8], any Error> = Task {
            try await runBlocking(limit: .seconds(15), what: LabText(en: "the checking client", id: "klien penguji")) { () throws -> [UInt8] in
                let connection = try TCPConnection.connect(to: address, timeout: .seconds(5))
                defer { connection.close() }
                var received: [UInt8] = []
                var sent: [UInt8] = []
                for (number, piece) in pieces.enumerated() {
                    LabAttempt.record(LabText(en: "piece \(number + 1) of \(pieces.count): \(HTTPEventRendering.escaped(piece))",
                                              id: "potongan \(number + 1) dari \(pieces.count): \(HTTPEventRendering.escaped(piece))"))
                    try connection.write(piece)
                    sent += piece
                    while received.count < sent.count {
                        guard case .bytes = try connection.read(into: &received, maxBytes: 65536, deadline: .after(.seconds(5))) else { break }
                    }
                    guard received.count >= sent.count else { break }
                }
                try connection.shutdown(.write)
                while case .bytes = try connection.read(into: &received, maxBytes: 65536, deadline: .after(.seconds(5))) {}
                return received
            }
        }
        let got: [UInt8]
        do {
            got = try await client.value
        } catch let error as SocketError {
            listener.close()
            _ = try? await served.value
            throw LabFailure(LabText(en: "a piece was not echoed within 5 s (\(error))", id: "sebuah potongan tidak dipantulkan dalam 5 detik (\(error))"),
                             hint: LabText(en: "write back what each read returned as soon as it returns — not after the client has closed",
                                           id: "tulis kembali hasil setiap read begitu read kembali — bukan setelah klien menutup"))
        }
        do {
            try await served.value
        } catch {
            listener.close()
            throw error
        }
        listener.close()
        let message = pieces.flatMap { $0 }
        guard got == message else {
            let repeated = got.count > message.count && Array(got.prefix(pieces[0].count * 2)) == pieces[0] + pieces[0]
            throw LabFailure(LabText(en: "the client got other bytes back than it sent", id: "klien menerima byte yang berbeda dari yang dikirim"),
                             evidence: firstDifference(message, got),
                             hint: repeated
                                ? LabText(en: "the first piece came back twice: `read(into:)` appends to your buffer — empty it after each echo (`buffer.removeAll()`)",
                                          id: "potongan pertama kembali dua kali: `read(into:)` menambahkan ke buffer Anda — kosongkan setelah setiap pantulan (`buffer.removeAll()`)")
                                : LabText(en: "write back exactly the bytes each read returned", id: "tulis kembali persis byte yang dikembalikan setiap read"))
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
            let reader = LabThread { () throws -> [UInt8] in
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

    static func manyCheck(_ echo: some EchoLab, clients: Int, idleFirst: Bool, patience: Duration) async throws {
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
            outer.addTask { try await Self.clients(clients, address: address, patience: patience) }
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

    /// `count` clients at once, each sending its own bytes and reading them back. Each first
    /// sends 512 bytes and waits for them; only when every client has had its first answer do
    /// they send the rest. A server that serves one connection at a time answers the first
    /// client only, and fails here every time, however fast it is.
    static func clients(_ count: Int, address: SocketAddress, patience: Duration) async throws -> [(Int, Bool)] {
        let answered = Locked(0)
        let firstPiece = 512
        func serial(_ client: Int, _ error: any Error) -> LabFailure {
            let heard = answered.withLock { $0 }
            let why = error is OthersUnanswered
                ? LabText(en: "it waited \(patience.components.seconds) s for the others", id: "ia menunggu klien lain \(patience.components.seconds) detik")
                : LabText(en: "\(error)", id: "\(error)")
            return LabFailure(
                LabText(en: "only \(heard) of \(count) clients had their first \(firstPiece) bytes echoed while all \(count) were connected (client \(client): \(why.en))",
                        id: "hanya \(heard) dari \(count) klien yang \(firstPiece) byte pertamanya dipantulkan selagi \(count) klien tersambung (klien \(client): \(why.id))"),
                hint: LabText(en: "serve each connection in its own task (listener.serve does that): one client waiting must not keep the others waiting",
                              id: "layani setiap koneksi dalam task-nya sendiri (listener.serve melakukannya): satu klien yang menunggu tidak boleh membuat klien lain menunggu"))
        }
        return try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
            for client in 0..<count {
                group.addTask {
                    let message = labBytes(count: 16 * 1024 + client, seed: UInt64(100 + client))
                    let connection: AsyncTCPConnection
                    do {
                        connection = try await AsyncTCPConnection.connect(to: address, timeout: .seconds(5))
                    } catch {
                        throw serial(client, error)
                    }
                    let deadline = Deadline.after(patience)
                    var received: [UInt8] = []
                    do {
                        try await connection.write(Array(message[..<firstPiece]), deadline: deadline)
                        while received.count < firstPiece {
                            guard case .bytes = try await connection.read(into: &received, maxBytes: 65536, deadline: deadline) else { break }
                        }
                        answered.withLock { $0 += 1 }
                        while answered.withLock({ $0 }) < count {
                            guard !deadline.hasPassed else { throw OthersUnanswered() }
                            try await Task.sleep(for: .milliseconds(5))
                        }
                    } catch {
                        await connection.close()
                        throw serial(client, error)
                    }
                    do {
                        async let rest: [UInt8] = { [received] in
                            var bytes = received
                            while case .bytes = try await connection.read(into: &bytes, maxBytes: 65536, deadline: deadline) {}
                            return bytes
                        }()
                        try await connection.write(Array(message[firstPiece...]), deadline: deadline)
                        try await connection.shutdownWrite()
                        let ok = try await rest == message
                        await connection.close()
                        return (client, ok)
                    } catch {
                        await connection.close()
                        throw LabFailure(
                            LabText(en: "client \(client) got no complete echo within \(patience.components.seconds) s (\(error))", id: "klien \(client) tidak mendapat pantulan lengkap dalam \(patience.components.seconds) detik (\(error))"),
                            hint: LabText(en: "echo every byte until the client closes its side, then close", id: "pantulkan setiap byte sampai klien menutup sisinya, lalu tutup"))
                    }
                }
            }
            var results: [(Int, Bool)] = []
            for try await result in group { results.append(result) }
            return results
        }
    }

    /// A client that had its answer waited in vain for the others to have theirs.
    struct OthersUnanswered: Error {}
}
