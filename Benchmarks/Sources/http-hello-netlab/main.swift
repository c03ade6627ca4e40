// NetLab's HTTP server as a peer of the http-server-peers harness: GET /hello answers
// 200 "Hello, World!" (text/plain, keep-alive) on 127.0.0.1:PORT until killed.
//
// usage: http-hello-netlab PORT
import Foundation
import NetLab

let port = CommandLine.arguments.count > 1 ? UInt16(CommandLine.arguments[1]) ?? 18080 : 18080
var router = Router()
router.get("/hello") { _ in .text("Hello, World!") }
var configuration = HTTPServerConfiguration()
configuration.serverName = "NetLab"
let server = HTTPServer(configuration: configuration, router: router)
let address = try await server.start(host: "127.0.0.1", port: port)
FileHandle.standardError.write(Data("netlab hello server on \(address)\n".utf8))
while true { try await Task.sleep(for: .seconds(3600)) }
