import Foundation
import TCPSocket
import TLSWrapper

/// The shop's edge, as a careless one is built: a reverse proxy that frames each request by its
/// `Content-Length` alone — `Transfer-Encoding` is passed on but never read — and forwards it
/// over one kept-alive connection to the shop, reading back one response per request (by its
/// `Content-Length` too).
///
/// In front of a server that refuses a request carrying both fields (RFC 9112 §6.1: such a
/// message "ought to be handled as an error"; NetLab's parser answers 400 and closes), nothing
/// happens. In front of one that lets `Transfer-Encoding` win and keeps the connection, one
/// request to the edge is two to the shop: the second — smuggled inside the first one's body —
/// is answered too, and that answer waits on the shared connection for whoever asks next. From
/// then on every client gets the answer meant for the one before: the story's attacker collects
/// a customer's order.
final class EdgeProxy: Sendable {
    private let listener: AsyncTCPListener
    private let backend: Backend
    private let serving: Task<Void, Never>

    var address: SocketAddress { listener.localAddress }

    /// Listens on loopback (plain HTTP) and forwards to the shop at `host`:`port` (over TLS with
    /// `tls`, verifying `serverName`).
    init(shopHost host: String, port: UInt16, tls: TLSContext?, serverName: String) throws {
        let listener = try AsyncTCPListener(host: "127.0.0.1", port: 0)
        let backend = Backend(host: host, port: port, tls: tls, serverName: serverName)
        self.listener = listener
        self.backend = backend
        serving = Task {
            _ = try? await listener.serve { client in
                defer { Task { await client.close() } }
                var buffer: [UInt8] = []
                while let request = try await EdgeProxy.message(from: client, buffer: &buffer) {
                    try await client.write(try await backend.exchange(request), deadline: .after(.seconds(10)))
                }
            }
        }
    }

    func close() async {
        serving.cancel()
        await listener.close()
        await backend.close()
    }

    /// The next message on `stream`, framed the edge's way: the head, then `Content-Length`
    /// bytes (nil at the end of the stream).
    static func message(from stream: any ByteStream, buffer: inout [UInt8]) async throws -> [UInt8]? {
        let separator = Array("\r\n\r\n".utf8)
        while true {
            if let end = buffer.indices.first(where: { buffer[$0...].starts(with: separator) }).map({ $0 + 4 }) {
                let head = String(decoding: buffer[..<end], as: UTF8.self)
                let length = head.split(separator: "\r\n").compactMap { line -> Int? in
                    let parts = line.split(separator: ":", maxSplits: 1)
                    guard parts.count == 2, parts[0].lowercased() == "content-length" else { return nil }
                    return Int(parts[1].trimmingCharacters(in: .whitespaces))
                }.first ?? 0
                if buffer.count >= end + length {
                    let message = Array(buffer[..<(end + length)])
                    buffer.removeFirst(end + length)
                    return message
                }
            }
            guard case .bytes = try await stream.read(into: &buffer, maxBytes: 65536, deadline: .after(.seconds(10))) else {
                return nil
            }
        }
    }

    /// The one connection to the shop, shared by every client of the edge, one exchange at a
    /// time; a new one when the shop has closed it.
    actor Backend {
        let host: String
        let port: UInt16
        let tls: TLSContext?
        let serverName: String
        private var stream: (any ByteStream)?
        /// What the shop sent beyond the response read: the next client's (wrong) answer.
        private var buffer: [UInt8] = []

        init(host: String, port: UInt16, tls: TLSContext?, serverName: String) {
            self.host = host
            self.port = port
            self.tls = tls
            self.serverName = serverName
        }

        func exchange(_ request: [UInt8]) async throws -> [UInt8] {
            let stream = try await connected()
            try await stream.write(request, deadline: .after(.seconds(10)))
            var pending = buffer
            let framed = try await EdgeProxy.message(from: stream, buffer: &pending)
            buffer = pending
            guard let response = framed else {
                await drop()
                return Array("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n".utf8)
            }
            // The shop said it closes (after a request it refused): so does the edge's side.
            if String(decoding: response.prefix(1024), as: UTF8.self).lowercased().contains("\r\nconnection: close\r\n") { await drop() }
            return response
        }

        private func connected() async throws -> any ByteStream {
            if let stream { return stream }
            let tcp = try await AsyncTCPConnection.connect(host: host, port: port, timeout: .seconds(5))
            var made: any ByteStream = tcp
            if let tls { made = try await TLSStream.connect(over: tcp, context: tls, serverName: serverName) }
            stream = made
            buffer = []
            return made
        }

        private func drop() async {
            await stream?.close()
            stream = nil
            buffer = []
        }

        func close() async { await drop() }
    }
}
