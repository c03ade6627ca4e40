// `lab serve 3`: the student's lab 3 connection loop behind a real listener, with the lab routes
// (GET /hello, POST /echo), for curl, a browser or wrk — the load lab compares it with NetLab's
// own server (`--reference`).
import Foundation
import NetLab
import NetLabConformance
import TCPSocket

func serve() async -> Int32 {
    guard positional().first == "3" else {
        fail("only lab 3 can be served: swift run lab serve 3 [--port N] [--host ADDR] [--reference]",
             "hanya lab 3 yang bisa dijalankan sebagai server: swift run lab serve 3 [--port N] [--host ALAMAT] [--reference]")
    }
    let host = option("--host") ?? "127.0.0.1"
    guard let port = UInt16(option("--port") ?? "8080") else { fail("--port must be a number from 0 to 65535", "--port harus angka 0 sampai 65535") }
    let announce: @Sendable (SocketAddress, String) -> Void = { address, whose in
        print(say("serving \(whose) lab 3 server on http://\(address) — try: curl http://\(address)/hello (Ctrl-C stops)",
                  "melayani server lab 3 \(whose) di http://\(address) — coba: curl http://\(address)/hello (Ctrl-C menghentikan)"))
    }
    do {
        if flag("--reference") {
            // NetLab's whole server (its accept loop and connection handling), on the same routes.
            var router = Router()
            LabRoutes.install(into: &router)
            let netlabServer = HTTPServer(router: router)
            announce(try await netlabServer.start(host: host, port: port), say("NetLab's", "NetLab"))
            while true { try await Task.sleep(for: .seconds(3600)) }
        } else {
            try await ServerLab.serve(server, host: host, port: port) { announce($0, say("your", "Anda")) }
        }
    } catch {
        fail("could not serve on \(host):\(port): \(error)", "tidak bisa melayani di \(host):\(port): \(error)")
    }
    return 0
}
