import Foundation
import TCPSocket
import TLSWrapper

/// Lab 4's seam: a TLS client around any byte stream, driven by the sans-IO ``TLSEngine``.
public protocol TLSClientWrapping: Sendable {
    /// Wraps `stream` as a TLS client of `serverName`, trusting only the CA certificates in
    /// `trustRootsFile` (verification on: the chain and the name). Returns after the handshake a
    /// ``ByteStream`` whose writes are encrypted onto `stream` and whose reads are decrypted from
    /// it (`.endOfStream` after the server's close_notify). Throws if the server is not trusted.
    func connect(over stream: any ByteStream, serverName: String, trustRootsFile: String) async throws -> any ByteStream
}

/// Lab 4's checks: TLS servers on loopback with certificates from a lab CA — and from an
/// interceptor's CA, and for the wrong name — against the student's client.
public enum TLSLab {
    public static let name = LabText(en: "TLS: wrapping a stream, verifying certificates; the mitm attack",
                                     id: "TLS: membungkus stream, memverifikasi sertifikat; serangan mitm")

    public static func suite(_ client: some TLSClientWrapping) -> LabSuite {
        LabSuite(number: 4, name: name, steps: [
            LabStep("4.1", LabText(en: "handshake with a server the lab CA vouches for, then a request and its answer over TLS",
                                   id: "jabat tangan dengan server yang dijamin CA lab, lalu permintaan dan jawabannya lewat TLS")) {
                try await Harness.with { h in
                    let server = try await h.server(certificate: h.trusted) { tls in
                        var request: [UInt8] = []
                        while !request.suffix(4).elementsEqual(Array("\r\n\r\n".utf8)) {
                            guard case .bytes = try await tls.read(into: &request, maxBytes: 4096, deadline: .after(.seconds(5))) else { break }
                        }
                        try await tls.write(Array("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello".utf8), deadline: .after(.seconds(5)))
                        try await tls.shutdownWrite()
                    }
                    let secure = try await h.connect(client, to: server, name: "localhost")
                    try await secure.write(Array("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8), deadline: .after(.seconds(5)))
                    let answer = try await Self.readAll(secure)
                    guard String(decoding: answer, as: UTF8.self).hasSuffix("\r\n\r\nhello") else {
                        throw LabFailure(LabText(en: "the answer read through your stream is not the server's", id: "jawaban yang terbaca lewat stream Anda bukan milik server"),
                                         evidence: LabText(en: "got \(answer.count) bytes: \(String(decoding: answer.prefix(120), as: UTF8.self))",
                                                           id: "diterima \(answer.count) byte: \(String(decoding: answer.prefix(120), as: UTF8.self))"),
                                         hint: LabText(en: "after engine.write, send engine.takeForNetwork() on the stream; to read, feed engine.receiveFromNetwork with what the stream gives until engine.read has bytes",
                                                       id: "setelah engine.write, kirim engine.takeForNetwork() ke stream; untuk membaca, umpankan engine.receiveFromNetwork dengan data dari stream sampai engine.read menghasilkan byte"))
                    }
                }
            },
            LabStep("4.2", LabText(en: "1 MiB echoed through TLS comes back whole (records of 16 KiB each way)",
                                   id: "1 MiB yang dipantulkan lewat TLS kembali utuh (record 16 KiB di kedua arah)")) {
                try await Harness.with { h in
                    let server = try await h.server(certificate: h.trusted) { tls in
                        var buffer: [UInt8] = []
                        while case .bytes = try await tls.read(into: &buffer, maxBytes: 65536, deadline: .after(.seconds(10))) {
                            try await tls.write(buffer, deadline: .after(.seconds(10)))
                            buffer.removeAll(keepingCapacity: true)
                        }
                        try await tls.shutdownWrite()
                    }
                    let secure = try await h.connect(client, to: server, name: "localhost")
                    let message = labBytes(count: 1 << 20, seed: 42)
                    async let echoed = Self.readAll(secure)
                    try await secure.write(message, deadline: .after(.seconds(10)))
                    try await secure.shutdownWrite()
                    let got = try await echoed
                    guard got == message else {
                        throw LabFailure(LabText(en: "the echo through TLS differs", id: "pantulan lewat TLS berbeda"), evidence: firstDifference(message, got))
                    }
                }
            },
            LabStep("4.3", LabText(en: "the mitm: a server with a certificate from another CA is refused, and nothing is sent to it",
                                   id: "mitm: server dengan sertifikat dari CA lain ditolak, dan tidak ada yang dikirim kepadanya")) {
                try await Harness.with { h in
                    let heard = Locked<[UInt8]>([])
                    let server = try await h.server(certificate: h.interceptor) { tls in
                        // Recorded as it arrives: what the interceptor could read.
                        while true {
                            var bytes: [UInt8] = []
                            guard case .bytes = try await tls.read(into: &bytes, maxBytes: 4096, deadline: .after(.seconds(5))) else { break }
                            heard.withLock { $0 += bytes }
                        }
                    }
                    try await h.expectRefused(client, by: server, name: "localhost", heard: { heard.withLock { $0 } }, what: LabText(
                        en: "an interceptor's certificate (\"Totally Legit Interceptor CA\") was accepted — this is the man in the middle reading the card",
                        id: "sertifikat interseptor (\"Totally Legit Interceptor CA\") diterima — inilah penyadap di tengah yang membaca kartu"))
                }
            },
            LabStep("4.4", LabText(en: "a certificate the lab CA issued for another name is refused (the name is checked, not only the chain)",
                                   id: "sertifikat dari CA lab untuk nama lain ditolak (nama diperiksa, bukan hanya rantainya)")) {
                try await Harness.with { h in
                    let server = try await h.server(certificate: h.otherName) { _ in }
                    try await h.expectRefused(client, by: server, name: "localhost", what: LabText(
                        en: "a certificate for \"shop.example\" was accepted for \"localhost\"", id: "sertifikat untuk \"shop.example\" diterima untuk \"localhost\""))
                }
            },
        ])
    }

    static func readAll(_ stream: any ByteStream) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        while case .bytes = try await stream.read(into: &bytes, maxBytes: 65536, deadline: .after(.seconds(10))) {}
        return bytes
    }

    /// A lab CA, an interceptor's CA, and TLS servers made from their certificates.
    final class Harness: Sendable {
        let directory: String
        let trustRoots: String
        let trusted: LabCertificateAuthority.Issued
        let otherName: LabCertificateAuthority.Issued
        let interceptor: LabCertificateAuthority.Issued
        private let tasks = Locked<[Task<Void, Never>]>([])

        private init(directory: String) throws {
            self.directory = directory
            let lab = try LabCertificateAuthority(directory: directory + "/lab")
            trustRoots = lab.certificatePath
            trusted = try lab.issue(name: "localhost")
            otherName = try lab.issue(name: "shop.example", extraNames: [])
            interceptor = try LabCertificateAuthority(directory: directory + "/evil", commonName: "Totally Legit Interceptor CA").issue(name: "localhost")
        }

        static func with(_ body: (Harness) async throws -> Void) async throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-lab4-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let harness = try Harness(directory: directory)
            defer { for task in harness.tasks.withLock({ $0 }) { task.cancel() } }
            try await body(harness)
        }

        /// A TLS server for one connection with `certificate`; `session` runs over the TLS stream.
        func server(certificate: LabCertificateAuthority.Issued, _ session: @escaping @Sendable (TLSStream) async throws -> Void) async throws -> AsyncTCPListener {
            var configuration = TLSConfiguration.server(certificateChainFile: certificate.certificatePath, privateKeyFile: certificate.privateKeyPath)
            configuration.keyLog = nil
            let context = try TLSContext(configuration)
            let listener = try AsyncTCPListener(host: "127.0.0.1", port: 0)
            tasks.withLock {
                // On the listener's loop, like a real server: its handshake deadline runs whether
                // or not Swift's few shared threads are free.
                $0.append(Task(executorPreference: listener.loop) {
                    guard let connection = try? await listener.accept(deadline: .after(.seconds(15))) else { return }
                    if let tls = try? await TLSStream.accept(over: connection, context: context) {
                        try? await session(tls)
                        await tls.close()
                    }
                    await connection.close()
                    await listener.close()
                })
            }
            return listener
        }

        /// The client's side runs on an event loop, as the server's does (see ``server(certificate:_:)``):
        /// its handshake — the student's loop of engine calls — keeps pace with the server's
        /// deadline even while Swift's few shared threads are busy elsewhere.
        func connect(_ client: some TLSClientWrapping, to listener: AsyncTCPListener, name: String) async throws -> any ByteStream {
            try await withTaskExecutorPreference(EventLoopGroup.shared.next()) { try await connectOnLoop(client, to: listener, name: name) }
        }

        private func connectOnLoop(_ client: some TLSClientWrapping, to listener: AsyncTCPListener, name: String) async throws -> any ByteStream {
            let tcp = try await AsyncTCPConnection.connect(to: listener.localAddress, timeout: .seconds(5))
            do {
                return try await client.connect(over: tcp, serverName: name, trustRootsFile: trustRoots)
            } catch let failure as LabFailure {
                throw failure
            } catch {
                throw LabFailure(LabText(en: "the handshake with a trusted server failed: \(error)", id: "jabat tangan dengan server tepercaya gagal: \(error)"),
                                 hint: LabText(en: "loop: engine.handshake(); send engine.takeForNetwork(); if .needsInput, read from the stream into engine.receiveFromNetwork",
                                               id: "ulangi: engine.handshake(); kirim engine.takeForNetwork(); jika .needsInput, baca dari stream ke engine.receiveFromNetwork"))
            }
        }

        /// The handshake must fail *because of the certificate* (a ``TLSError`` of verification),
        /// not for any other reason — a client that never completes a handshake is not refusing.
        func expectRefused(_ client: some TLSClientWrapping, by listener: AsyncTCPListener, name: String,
                           heard: @Sendable () -> [UInt8] = { [] }, what: LabText) async throws {
            // On an event loop, for the reason ``connect(_:to:name:)`` gives.
            try await withTaskExecutorPreference(EventLoopGroup.shared.next()) {
                try await expectRefusedOnLoop(client, by: listener, name: name, heard: heard, what: what)
            }
        }

        private func expectRefusedOnLoop(_ client: some TLSClientWrapping, by listener: AsyncTCPListener, name: String,
                                         heard: @Sendable () -> [UInt8], what: LabText) async throws {
            let tcp = try await AsyncTCPConnection.connect(to: listener.localAddress, timeout: .seconds(5))
            do {
                let secure = try await client.connect(over: tcp, serverName: name, trustRootsFile: trustRoots)
                try? await secure.write(Array("GET /v2/token?card_number=4811111111111114&card_cvv=123 HTTP/1.1\r\n\r\n".utf8), deadline: .after(.seconds(2)))
                try? await Task.sleep(for: .milliseconds(300))
                await secure.close()
            } catch let failure as LabFailure {
                throw failure
            } catch let error as TLSError {
                await tcp.close()
                switch error {
                case .unknownCertificateAuthority, .hostnameMismatch, .certificateVerificationFailed, .selfSignedCertificate,
                     .certificateExpired, .certificateNotYetValid:
                    return  // refused for the right reason
                default:
                    throw LabFailure(LabText(en: "the handshake failed, but not because of the certificate: \(error)",
                                             id: "jabat tangan gagal, tetapi bukan karena sertifikatnya: \(error)"),
                                     hint: LabText(en: "first make 4.1 pass: a client that never completes a handshake refuses nothing",
                                                   id: "luluskan 4.1 dulu: klien yang tidak pernah menyelesaikan jabat tangan tidak menolak apa pun"))
                }
            } catch {
                await tcp.close()
                throw LabFailure(LabText(en: "the handshake failed with \(error), not with the TLSError of a refused certificate",
                                         id: "jabat tangan gagal dengan \(error), bukan dengan TLSError sertifikat yang ditolak"),
                                 hint: LabText(en: "let the TLSError thrown by engine.handshake() out unchanged", id: "teruskan TLSError dari engine.handshake() apa adanya"))
            }
            let stolen = heard()
            throw LabFailure(what, evidence: stolen.isEmpty ? nil : LabText(en: "the interceptor read: \(String(decoding: stolen, as: UTF8.self))",
                                                                     id: "penyadap membaca: \(String(decoding: stolen, as: UTF8.self))"),
                             hint: LabText(en: "build the context with TLSContext(.client(trustRootsFile:)) and give TLSEngine the serverName: OpenSSL then checks both",
                                           id: "buat context dengan TLSContext(.client(trustRootsFile:)) dan beri TLSEngine serverName-nya: OpenSSL lalu memeriksa keduanya"))
        }
    }
}
