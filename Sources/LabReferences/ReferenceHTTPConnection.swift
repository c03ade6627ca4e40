import NetLab
import NetLabConformance
import TCPSocket

/// NetLab's own answer to lab 3: the connection loop of ``HTTPServer``.
public struct ReferenceHTTPConnection: HTTPConnectionServing {
    public init() {}

    public func serve(_ connection: any ByteStream, router: Router, idleTimeout: Duration) async {
        var configuration = HTTPServerConfiguration()
        configuration.idleTimeout = idleTimeout
        configuration.headerTimeout = idleTimeout
        await HTTPServer(configuration: configuration, router: router).serve(connection)
    }
}
