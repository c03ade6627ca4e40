import Foundation
import Testing

@testable import TCPSocket

/// Real peers not written here: Python's socket module on the other end of the wire.
@Suite("Interop with Python's socket module", .timeLimit(.minutes(3)))
struct InteropTests {
    @Test("a Python client talks to TCPListener")
    func pythonClient() async throws {
        let listener = try TCPListener(host: "127.0.0.1", port: 0)
        let server = BackgroundThread { () -> String in
            let connection = try listener.accept(deadline: .after(.seconds(10)))
            defer { connection.close() }
            var request: [UInt8] = []
            while case .bytes = try connection.read(into: &request, deadline: .after(.seconds(10))) {}
            try connection.write("netlab heard: " + String(decoding: request, as: UTF8.self))
            return String(decoding: request, as: UTF8.self)
        }
        let python = try PythonProcess(
            script: """
                import socket, sys
                s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
                s.sendall(b"hello from python")
                s.shutdown(socket.SHUT_WR)
                reply = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk: break
                    reply += chunk
                print(reply.decode())
                """, arguments: [String(listener.localAddress.port)])
        #expect(try await python.readLine() == "netlab heard: hello from python")
        #expect(try await python.wait() == 0)
        #expect(try await server.value() == "hello from python")
        listener.close()
    }

    @Test("TCPConnection and AsyncTCPConnection talk to a Python echo server")
    func pythonServer() async throws {
        let python = try PythonProcess(script: """
            import socket
            srv = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            srv.bind(("::1", 0)); srv.listen(4); srv.settimeout(60)
            print(srv.getsockname()[1], flush=True)
            for _ in range(2):
                c, _ = srv.accept(); c.settimeout(60)
                while True:
                    data = c.recv(65536)
                    if not data: break
                    c.sendall(data)
                c.close()
            """)
        let port = try #require(UInt16(try await python.readLine()))
        let blocking = try TCPConnection.connect(host: "::1", port: port, timeout: .seconds(5))
        let message = Array((0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let sent = BackgroundThread { try blocking.write(message, deadline: .after(.seconds(10))); try blocking.shutdown(.write) }
        #expect(try blocking.readExactly(message.count, deadline: .after(.seconds(10))) == message)
        try await sent.value()
        blocking.close()

        let async = try await AsyncTCPConnection.connect(host: "::1", port: port, timeout: .seconds(5))
        try await async.write("async hello")
        try await async.shutdownWrite()
        #expect(try await async.readToEnd() == Array("async hello".utf8))
        await async.close()
        #expect(try await python.wait() == 0)
    }
}
