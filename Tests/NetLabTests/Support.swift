import Foundation
import NetLabTestSupport
import HTTPParser
import NetLab
import TCPSocket
import Testing

/// A parsed response as a test sees it.
struct RawResponse {
    var head: HTTPResponseHead
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
    var status: Int { head.status }
}

/// The demo routes most tests use.
func testRouter() -> Router {
    var router = Router()
    router.get("/hello") { _ in .text("Hello, World!") }
    router.post("/echo") { request in HTTPResponse(status: 200, body: .bytes(request.body)) }
    router.get("/v2/{id}/status") { request in .text("status of \(request.pathParameters["id"] ?? "?")") }
    router.get("/fail") { _ in throw CocoaError(.fileNoSuchFile) }
    router.get("/teapot") { _ in throw HTTPError(status: 418, message: "I'm a teapot") }
    router.get("/slow") { _ in
        try await Task.sleep(for: .milliseconds(300))
        return .text("finally")
    }
    router.get("/stream") { _ in
        .stream { writer in
            for i in 1...3 { try await writer.write("part \(i)\n") }
        }
    }
    router.get("/query") { request in .text(request.queryParameters["q"] ?? "-") }
    return router
}

/// Drives a server over a socketpair: writes `raw`, then reads until `count` responses have
/// been parsed (or the server closes). Returns them and whether the server closed.
func converse(
    _ server: HTTPServer, _ raw: String, responses count: Int, methods: [HTTPMethod]? = nil, halfClose: Bool = false
) async throws -> (responses: [RawResponse], closed: Bool) {
    let (client, serverEnd) = try SocketPair.makeStreams()
    let serving = Task(executorPreference: serverEnd.loop) { await server.serve(serverEnd) }
    defer { serving.cancel() }
    try await client.write(raw)
    if halfClose { try await client.shutdownWrite() }
    var parser = HTTPMessageParser(parsing: .responses)
    for method in methods ?? Array(repeating: .get, count: count) { parser.expectResponse(to: method) }
    var results: [RawResponse] = []
    var current: RawResponse?
    var buffer: [UInt8] = []
    var closed = false
    while results.count < count {
        while let event = try parser.nextEvent() {
            switch event {
            case .responseHead(let head): current = RawResponse(head: head, body: [])
            case .body(let bytes): current?.body += bytes
            case .endOfMessage:
                if let done = current { results.append(done) }
                current = nil
            default: break
            }
        }
        if results.count >= count { break }
        buffer.removeAll()
        if case .endOfStream = try await client.read(into: &buffer, maxBytes: 65536, deadline: .after(.seconds(10))) {
            closed = true
            parser.receiveEndOfStream()
            while let event = try parser.nextEvent() {
                if case .endOfMessage = event, let done = current { results.append(done); current = nil }
                if case .responseHead(let head) = event { current = RawResponse(head: head, body: []) }
                if case .body(let bytes) = event { current?.body += bytes }
            }
            break
        }
        parser.receive(buffer)
    }
    if !closed {
        // Did the server close after the last response? Look briefly.
        buffer.removeAll()
        if let result = try? await client.read(into: &buffer, maxBytes: 1, deadline: .after(.seconds(1))),
            result == .endOfStream
        {
            closed = true
        }
    }
    await client.close()
    await serving.value
    return (results, closed)
}

/// Runs a real server on loopback for the duration of `body`.
func withServer<R>(
    configuration: HTTPServerConfiguration = HTTPServerConfiguration(), router: Router = testRouter(),
    _ body: (HTTPServer, SocketAddress) async throws -> R
) async throws -> R {
    let server = HTTPServer(configuration: configuration, router: router)
    let address = try await server.start(host: "127.0.0.1", port: 0)
    do {
        let result = try await body(server, address)
        await server.shutdown(gracePeriod: .seconds(2))
        return result
    } catch {
        await server.shutdown(gracePeriod: .seconds(2))
        throw error
    }
}

/// Open file descriptors of this process (entries of /proc/self/fd).
func openDescriptors() -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
}

/// Runs blocking code (the blocking socket API, a peer written in it) on a thread of its own,
/// never on the cooperative pool: two blocked pool threads would stall every async test.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

/// Runs a command (from PATH) on its own thread — never on the cooperative pool, which the
/// server under test needs — and returns its exit status, standard output and error.
func run(_ command: String, _ arguments: [String], input: String? = nil) async throws -> (status: Int32, output: String, error: String) {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try runBlocking(command, arguments, input: input) })
        }
        thread.start()
    }
}

func runBlocking(_ command: String, _ arguments: [String], input: String? = nil) throws -> (status: Int32, output: String, error: String) {
    // ChildProcess, not Foundation's Process: see why in its documentation.
    let child = try ChildProcess(executable: "/usr/bin/env", arguments: [command] + arguments, input: Array((input ?? "").utf8),
                                 separateStandardError: true)
    let exit = child.waitBlocking()
    return (exit?.code ?? -1, child.output, child.errorOutput)
}

/// Whether a command exists on PATH.
func commandExists(_ name: String) -> Bool {
    (try? runBlocking("sh", ["-c", "command -v \(name)"]).status) == 0
}

/// Sockets of this process that are still open on `port` (either end), from /proc/net/tcp and
/// tcp6: entries with an inode (a descriptor holds them) that are not the listening socket.
/// Unlike a count of all descriptors, this is not disturbed by tests running in parallel.
func openSockets(onPort port: UInt16) -> [String] {
    var found: [String] = []
    let hexPort = String(format: "%04X", port)
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        guard let table = try? String(contentsOfFile: file, encoding: .utf8) else { continue }
        for line in table.split(separator: "\n").dropFirst() {
            let columns = line.split(separator: " ", omittingEmptySubsequences: true)
            guard columns.count > 9 else { continue }
            let local = columns[1], remote = columns[2], state = columns[3], inode = columns[9]
            let onPort = local.hasSuffix(":" + hexPort) || remote.hasSuffix(":" + hexPort)
            // 0A = LISTEN (the server's own socket, closed by shutdown); inode 0 = no descriptor (TIME_WAIT).
            if onPort && inode != "0" && state != "0A" { found.append(String(line)) }
        }
    }
    return found
}
