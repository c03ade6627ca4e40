internal import COpenSSL
internal import CTLSShim
import Foundation
import TCPSocket

/// How TLS is set up for one role. Verification is on unless ``certificateVerification`` is
/// set to the loudly named ``CertificateVerification/noneDangerous``.
public struct TLSConfiguration: Sendable {
    public enum Role: Sendable { case client, server }

    /// What the client checks about the server's certificate (or the server about clients').
    public enum CertificateVerification: Sendable {
        /// The chain must lead to a trusted root, and (client side) the certificate must name
        /// the host connected to. The default.
        case fullVerification
        /// Accept any certificate from anyone. Only for demonstrating what it costs: a
        /// man in the middle then reads and changes everything.
        case noneDangerous
    }

    public var role: Role
    /// Trusted roots: a PEM file of CA certificates; nil uses the system store.
    public var trustRootsFile: String?
    public var certificateVerification: CertificateVerification = .fullVerification
    /// Our certificate chain (PEM, leaf first) and private key (PEM): required for servers,
    /// optional for clients (mutual TLS).
    public var certificateChainFile: String?
    public var privateKeyFile: String?
    /// Server: demand a client certificate signed by the trust roots (mutual TLS).
    public var requireClientCertificate = false
    /// ALPN protocols, in preference order.
    public var applicationProtocols: [String] = ["http/1.1"]
    /// Lowest TLS version accepted: 1.2 (0x0303) by default; 1.3 is preferred when both speak it.
    public var minimumVersion: TLSVersion = .tls1_2
    /// Client: keep each server's newest session and offer it on the next connection to that
    /// name (an abbreviated handshake). Off, every connection makes a full handshake.
    public var resumesSessions = true
    /// Where NSS key-log lines go (for Wireshark). Defaults to the file named by SSLKEYLOGFILE.
    public var keyLog: (@Sendable (String) -> Void)? = TLSConfiguration.keyLogFromEnvironment()

    public static func client(trustRootsFile: String? = nil) -> TLSConfiguration {
        TLSConfiguration(role: .client, trustRootsFile: trustRootsFile)
    }

    public static func server(certificateChainFile: String, privateKeyFile: String) -> TLSConfiguration {
        var configuration = TLSConfiguration(role: .server)
        configuration.certificateChainFile = certificateChainFile
        configuration.privateKeyFile = privateKeyFile
        return configuration
    }

    public init(role: Role, trustRootsFile: String? = nil) {
        self.role = role
        self.trustRootsFile = trustRootsFile
    }

    /// Appends key-log lines to the file SSLKEYLOGFILE names, when it is set.
    static func keyLogFromEnvironment() -> (@Sendable (String) -> Void)? {
        guard let path = ProcessInfo.processInfo.environment["SSLKEYLOGFILE"], !path.isEmpty else { return nil }
        return { line in
            // One write per line with O_APPEND: lines from parallel connections never interleave.
            let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard fd >= 0 else { return }
            _ = fchmod(fd, 0o600)  // secrets: never readable by others, whatever the file had
            let bytes = Array((line + "\n").utf8)
            _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
        }
    }
}

/// A TLS protocol version.
public struct TLSVersion: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public static let tls1_2 = TLSVersion(rawValue: Int32(TLS1_2_VERSION))
    public static let tls1_3 = TLSVersion(rawValue: Int32(TLS1_3_VERSION))
    public var description: String { rawValue == TLS1_3_VERSION ? "TLSv1.3" : rawValue == TLS1_2_VERSION ? "TLSv1.2" : "0x\(String(rawValue, radix: 16))" }
}

/// A configured `SSL_CTX`: immutable after init, so connections may be made from it on any
/// thread (OpenSSL allows concurrent `SSL_new` on a configured context).
public final class TLSContext: @unchecked Sendable {
    let ctx: OpaquePointer
    public let configuration: TLSConfiguration
    /// ALPN protocols in wire format (length-prefixed), kept alive for the select callback.
    let alpnWire: [UInt8]
    /// Client side: the last session each server name gave us, for resumption (an `SSL_SESSION*`
    /// we hold one reference to).
    let sessions = Locked<[String: SessionReference]>([:])

    struct SessionReference: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    public init(_ configuration: TLSConfiguration) throws(TLSError) {
        OpenSSLLibrary.ensureInitialized()
        self.configuration = configuration
        if let long = configuration.applicationProtocols.first(where: { $0.utf8.isEmpty || $0.utf8.count > 255 }) {
            throw .configuration("ALPN protocol names are 1-255 bytes long: \"\(long)\"")
        }
        if configuration.requireClientCertificate {
            // Trusting the system store for client certificates would let in anyone with a public
            // clientAuth certificate; asking for one without checking it would be theatre.
            guard configuration.trustRootsFile != nil, configuration.certificateVerification == .fullVerification else {
                throw .configuration("requireClientCertificate needs trustRootsFile (the CA of the clients) and full verification")
            }
        }
        alpnWire = configuration.applicationProtocols.flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) }
        ERR_clear_error()
        guard let ctx = SSL_CTX_new(configuration.role == .client ? TLS_client_method() : TLS_server_method()) else {
            throw .configuration("SSL_CTX_new failed: \(TLSError.drainErrorQueue())")
        }
        self.ctx = ctx
        // Everything that decides outcomes is set here, not left to the distribution's config.
        _ = CTLSShim_SSL_CTX_set_min_proto_version(ctx, configuration.minimumVersion.rawValue)
        _ = CTLSShim_SSL_CTX_set_max_proto_version(ctx, Int32(TLS1_3_VERSION))
        _ = SSL_CTX_set_options(ctx, CTLSShim_SSL_OP_NO_RENEGOTIATION() | CTLSShim_SSL_OP_NO_COMPRESSION())
        // A server that verifies peers must name its session context, or TLS 1.2 resumption fails.
        _ = SSL_CTX_set_session_id_context(ctx, "netlab", 6)

        if let chain = configuration.certificateChainFile {
            guard SSL_CTX_use_certificate_chain_file(ctx, chain) == 1 else {
                throw .configuration("cannot use certificate chain \(chain): \(TLSError.drainErrorQueue())")
            }
            guard let key = configuration.privateKeyFile, SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) == 1 else {
                throw .configuration("cannot use private key \(configuration.privateKeyFile ?? "(none)"): \(TLSError.drainErrorQueue())")
            }
            guard SSL_CTX_check_private_key(ctx) == 1 else {
                throw .configuration("the private key does not match the certificate: \(TLSError.drainErrorQueue())")
            }
        } else if configuration.role == .server {
            throw .configuration("a TLS server needs certificateChainFile and privateKeyFile")
        }

        switch configuration.certificateVerification {
        case .fullVerification:
            if let roots = configuration.trustRootsFile {
                guard SSL_CTX_load_verify_locations(ctx, roots, nil) == 1 else {
                    throw .configuration("cannot load trust roots \(roots): \(TLSError.drainErrorQueue())")
                }
            } else {
                _ = SSL_CTX_set_default_verify_paths(ctx)
            }
            if configuration.role == .client {
                SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
            } else if configuration.requireClientCertificate {
                SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
            }
        case .noneDangerous:
            SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nil)
        }

        if !alpnWire.isEmpty {
            if configuration.role == .client {
                // Returns 0 on success (unlike most OpenSSL calls).
                guard alpnWire.withUnsafeBufferPointer({ SSL_CTX_set_alpn_protos(ctx, $0.baseAddress, UInt32($0.count)) }) == 0 else {
                    throw .configuration("SSL_CTX_set_alpn_protos failed")
                }
            } else {
                SSL_CTX_set_alpn_select_cb(ctx, alpnSelect, Unmanaged.passUnretained(self).toOpaque())
            }
        }
        _ = SSL_CTX_set_ex_data(ctx, TLSContext.exDataIndex, Unmanaged.passUnretained(self).toOpaque())
        if configuration.keyLog != nil {
            SSL_CTX_set_keylog_callback(ctx, keyLogLine)
        }
        if configuration.role == .client && configuration.resumesSessions {
            // Session resumption: keep each server's newest session (TLS 1.3 sends tickets after
            // the handshake) and offer it on the next connection to that name.
            _ = CTLSShim_SSL_CTX_set_session_cache_mode_client(ctx)
            SSL_CTX_sess_set_new_cb(ctx, newSession)
        }
    }

    deinit {
        for session in sessions.withLock({ Array($0.values) }) { SSL_SESSION_free(session.pointer) }
        SSL_CTX_free(ctx)
    }

    /// TLS 1.3 session tickets (NewSessionTicket, RFC 8446 §4.6.1) received on each live
    /// connection of this client context, by its SSL's address: they come after the handshake,
    /// encrypted like data, and a wire tap cannot tell them from it.
    private let ticketCounts = Locked<[Int: Int]>([:])

    func noteTicket(on ssl: OpaquePointer) { ticketCounts.withLock { $0[Int(bitPattern: UnsafeRawPointer(ssl)), default: 0] += 1 } }
    func tickets(on ssl: OpaquePointer) -> Int { ticketCounts.withLock { $0[Int(bitPattern: UnsafeRawPointer(ssl))] ?? 0 } }
    func forgetTickets(on ssl: OpaquePointer) { ticketCounts.withLock { $0[Int(bitPattern: UnsafeRawPointer(ssl))] = nil } }

    /// Stores `session` (taking the reference OpenSSL hands over) as the newest for `name`.
    func remember(_ session: OpaquePointer, for name: String) {
        let old = sessions.withLock { $0.updateValue(SessionReference(pointer: session), forKey: name) }
        if let old { SSL_SESSION_free(old.pointer) }
    }

    /// Puts the remembered session for `name` on `ssl`, if there is one.
    func offerSession(for name: String, on ssl: OpaquePointer) {
        guard configuration.resumesSessions else { return }
        sessions.withLock { sessions in
            if let session = sessions[name] { _ = SSL_set_session(ssl, session.pointer) }
        }
    }

    /// The ex_data slot where an SSL_CTX finds its Swift context (for the key-log callback).
    static let exDataIndex: Int32 = CTLSShim_SSL_CTX_get_ex_new_index()
}

/// ALPN on the server: the first of our protocols the client offers, or a fatal
/// no_application_protocol alert (RFC 7301 §3.2) when there is none.
private func alpnSelect(
    _ ssl: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?, _ outlen: UnsafeMutablePointer<UInt8>?,
    _ input: UnsafePointer<UInt8>?, _ inlen: UInt32, _ arg: UnsafeMutableRawPointer?
) -> Int32 {
    guard let arg, let out, let outlen, let input else { return SSL_TLSEXT_ERR_ALERT_FATAL }
    let context = Unmanaged<TLSContext>.fromOpaque(arg).takeUnretainedValue()
    let chosen = context.alpnWire.withUnsafeBufferPointer { server in
        CTLSShim_select_alpn(out, outlen, server.baseAddress, UInt32(server.count), input, inlen)
    }
    return chosen == 1 ? SSL_TLSEXT_ERR_OK : SSL_TLSEXT_ERR_ALERT_FATAL
}

/// A new session (a TLS 1.3 ticket, or a TLS 1.2 session) for the client's cache. Returning 1
/// keeps the reference OpenSSL passed.
private func newSession(_ ssl: OpaquePointer?, _ session: OpaquePointer?) -> Int32 {
    guard let ssl, let session, let ctx = SSL_get_SSL_CTX(ssl), let raw = SSL_CTX_get_ex_data(ctx, TLSContext.exDataIndex) else { return 0 }
    let context = Unmanaged<TLSContext>.fromOpaque(raw).takeUnretainedValue()
    // In TLS 1.3 each new session is a ticket that arrived after the handshake.
    if SSL_version(ssl) == TLS1_3_VERSION { context.noteTicket(on: ssl) }
    // Kept for resumption under the server's name (an IP address is never sent as one).
    guard let name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) else { return 0 }
    context.remember(session, for: String(cString: name))
    return 1
}

/// Key log: OpenSSL hands one NSS key-log line per secret.
private func keyLogLine(_ ssl: OpaquePointer?, _ line: UnsafePointer<CChar>?) {
    guard let ssl, let line, let ctx = SSL_get_SSL_CTX(ssl),
        let raw = SSL_CTX_get_ex_data(ctx, TLSContext.exDataIndex)
    else { return }
    let context = Unmanaged<TLSContext>.fromOpaque(raw).takeUnretainedValue()
    context.configuration.keyLog?(String(cString: line))
}
