import TLSWrapper

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The TLS targets' contexts: a lab certificate authority and a `localhost` server
/// certificate, made once per process in a fresh temporary folder that is removed at exit.
public enum TLSFixtures {
    static let folder: String = {
        var template = Array("/tmp/netlab-fuzz-tls-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            fatalError("mkdtemp failed: errno \(errno)")
        }
        atexit { _ = system("rm -rf '\(TLSFixtures.folder)'") }
        return String(cString: made)
    }()

    static let authority: LabCertificateAuthority = {
        do { return try LabCertificateAuthority(directory: folder) } catch { fatalError("lab CA: \(error)") }
    }()

    /// A server context with the lab's `localhost` certificate (TLS 1.2 and 1.3).
    public static let server: TLSContext = {
        do {
            let issued = try authority.issue(name: "localhost")
            return try TLSContext(.server(certificateChainFile: issued.certificatePath, privateKeyFile: issued.privateKeyPath))
        } catch { fatalError("server context: \(error)") }
    }()

    /// A client context that trusts only the lab authority and verifies fully.
    public static let client: TLSContext = {
        do { return try TLSContext(.client(trustRootsFile: authority.certificatePath)) } catch { fatalError("client context: \(error)") }
    }()
}
