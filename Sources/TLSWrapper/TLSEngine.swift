// Theory of operation
// ===================
//
// TLSEngine is sans-IO TLS: OpenSSL's `SSL` object reads ciphertext from one memory BIO
// (`network → engine`, filled by `receiveFromNetwork`) and writes ciphertext to another
// (`engine → network`, emptied by `takeForNetwork`). Plaintext goes in with `write` and comes
// out of `read`. The engine never touches a socket, so tests run two engines against each
// other in memory, and the wiretap can show the ciphertext NetLab's own code moves.
//
// Rules (each from a pitfall met in practice):
// 1. OpenSSL's error queue is per thread: every step clears it, makes one call, classifies
//    the result and drains the queue before returning — never an `await` in between.
// 2. After every step the caller must send `takeForNetwork()` (handshake messages, alerts,
//    session tickets and close_notify all appear there, even after a failed call).
// 3. The input BIO reports "no data yet" (-1) until `receiveEndOfStream`, which makes it
//    report EOF (0); OpenSSL can then tell a clean close_notify from a truncation.
// 4. The engine is not thread-safe: exactly one owner calls it at a time (TLSStream holds a
//    lock around each step).

internal import COpenSSL
internal import CTLSShim
import TCPSocket

/// What a handshake step achieved.
public enum TLSHandshakeProgress: Sendable, Equatable {
    case complete
    /// Send what `takeForNetwork()` has, then feed the peer's answer.
    case needsInput
}

/// What a read achieved.
public enum TLSReadProgress: Sendable, Equatable {
    case bytes(Int)
    /// No whole record yet: feed more ciphertext.
    case needsInput
    /// The peer sent close_notify: no more plaintext will come.
    case closed
}

/// One TLS connection without I/O (see the theory of operation above).
public final class TLSEngine {
    let ssl: OpaquePointer
    private let networkToEngine: OpaquePointer
    private let engineToNetwork: OpaquePointer
    /// Keeps the SSL_CTX's Swift owner (and its callbacks' data) alive.
    public let context: TLSContext
    /// The host this client expects (for SNI and the name check), or nil.
    public let expectedHost: String?
    private(set) var handshakeComplete = false
    private var failed = false
    /// A read failure found after plaintext was returned: the next read throws it.
    private var deferredFailure: TLSError?

    /// A client engine for `host` (SNI and certificate name check; an IP literal is checked
    /// against the certificate's IP SANs and sent without SNI), or a server engine.
    public init(context: TLSContext, serverName host: String? = nil) throws(TLSError) {
        self.context = context
        expectedHost = host
        // A verifying client must know whom it wants to reach: without a name only the chain
        // would be checked, and any certificate from any trusted CA would do.
        if context.configuration.role == .client, context.configuration.certificateVerification == .fullVerification,
            host?.isEmpty ?? true
        {
            throw .configuration("a verifying TLS client needs the server's name (or IP address) to check the certificate against")
        }
        ERR_clear_error()
        guard let ssl = SSL_new(context.ctx), let rbio = BIO_new(BIO_s_mem()), let wbio = BIO_new(BIO_s_mem()) else {
            throw .configuration("SSL_new failed: \(TLSError.drainErrorQueue())")
        }
        self.ssl = ssl
        networkToEngine = rbio
        engineToNetwork = wbio
        _ = CTLSShim_BIO_set_mem_eof_return(rbio, -1)
        SSL_set_bio(ssl, rbio, wbio)  // the SSL owns both BIOs now
        switch context.configuration.role {
        case .client:
            SSL_set_connect_state(ssl)
            if let host, context.configuration.certificateVerification == .fullVerification {
                if Self.isIPAddress(host) {
                    let param = SSL_get0_param(ssl)
                    guard X509_VERIFY_PARAM_set1_ip_asc(param, host) == 1 else {
                        throw .configuration("cannot check the certificate against IP \(host)")
                    }
                } else {
                    _ = CTLSShim_SSL_set_tlsext_host_name(ssl, host)
                    context.offerSession(for: host, on: ssl)
                    // Names only from subjectAltName; a CN is never taken for a name (RFC 6125).
                    SSL_set_hostflags(ssl, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT))
                    guard SSL_set1_host(ssl, host) == 1 else { throw .configuration("cannot set expected host \(host)") }
                }
            } else if let host, !Self.isIPAddress(host) {
                _ = CTLSShim_SSL_set_tlsext_host_name(ssl, host)
            }
        case .server:
            SSL_set_accept_state(ssl)
        }
    }

    deinit {
        context.forgetTickets(on: ssl)
        SSL_free(ssl)
    }

    /// TLS 1.3 session tickets received so far on this connection (a client's; 0 on a server).
    public var sessionTicketsReceived: Int { context.tickets(on: ssl) }

    // MARK: Moving ciphertext

    /// Ciphertext from the peer.
    public func receiveFromNetwork(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        _ = bytes.withUnsafeBytes { BIO_write(networkToEngine, $0.baseAddress, Int32(clamping: $0.count)) }
    }

    /// The peer closed the transport: reads will report EOF to OpenSSL from now on.
    public func receiveEndOfStream() {
        _ = CTLSShim_BIO_set_mem_eof_return(networkToEngine, 0)
    }

    /// Whether ciphertext waits to be sent.
    public var hasPendingOutput: Bool { BIO_ctrl_pending(engineToNetwork) > 0 }

    /// Ciphertext to send to the peer (empty when there is none).
    public func takeForNetwork() -> [UInt8] {
        let pending = Int(BIO_ctrl_pending(engineToNetwork))
        guard pending > 0 else { return [] }
        return [UInt8](unsafeUninitializedCapacity: pending) { buffer, count in
            count = Int(max(0, BIO_read(engineToNetwork, buffer.baseAddress, Int32(pending))))
        }
    }

    // MARK: Steps

    /// Advances the handshake.
    public func handshake() throws(TLSError) -> TLSHandshakeProgress {
        if handshakeComplete { return .complete }
        if failed { throw .closed }
        ERR_clear_error()
        let rc = SSL_do_handshake(ssl)
        if rc == 1 {
            handshakeComplete = true
            return .complete
        }
        let code = SSL_get_error(ssl, rc)
        if code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE { return .needsInput }
        failed = true
        throw TLSError.handshake(ssl: ssl, expectedHost: expectedHost)
    }

    /// Decrypts into `buffer`, appending up to `maxBytes`: every whole record already received,
    /// as far as they fit (one call, not one per record, drains a burst of ciphertext).
    ///
    /// A failure met after some plaintext was taken is kept and thrown by the next call, so the
    /// plaintext that came before it is never lost.
    public func read(into buffer: inout [UInt8], maxBytes: Int) throws(TLSError) -> TLSReadProgress {
        if let failure = deferredFailure {
            deferredFailure = nil
            throw failure
        }
        if failed { throw .closed }
        ERR_clear_error()
        var code: Int32 = 0
        let readCount = buffer.appendBytes(upTo: maxBytes) { raw in
            var filled = 0
            while filled < raw.count {
                let rc = SSL_read(ssl, raw.baseAddress! + filled, Int32(clamping: raw.count - filled))
                guard rc > 0 else {
                    code = SSL_get_error(ssl, rc)
                    break
                }
                filled += Int(rc)
            }
            return filled
        }
        switch code {
        case 0, SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return readCount > 0 ? .bytes(readCount) : .needsInput
        case SSL_ERROR_ZERO_RETURN:
            // close_notify: OpenSSL answers every later read the same way.
            return readCount > 0 ? .bytes(readCount) : .closed
        default:
            failed = true
            let failure = readFailure(code: code, queue: OpenSSLErrorQueue.drain())
            guard readCount > 0 else { throw failure }
            deferredFailure = failure
            return .bytes(readCount)
        }
    }

    /// Names why `SSL_read` failed (with `code` from `SSL_get_error`).
    private func readFailure(code: Int32, queue: OpenSSLErrorQueue) -> TLSError {
        if code == SSL_ERROR_SYSCALL || queue.hasSSLReason(SSL_R_UNEXPECTED_EOF_WHILE_READING) {
            return .closedWithoutCloseNotify
        }
        // TLS 1.3 reports a refused client certificate only now, on the first read.
        if !handshakeComplete
            || queue.hasSSLReason(SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED, SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)
        {
            return .handshakeFailed(detail: queue.description)
        }
        return .protocolError(detail: queue.description)
    }

    /// Encrypts all of `bytes` (the memory BIO never refuses them).
    public func write(_ bytes: [UInt8]) throws(TLSError) {
        if failed { throw .closed }
        guard !bytes.isEmpty else { return }
        ERR_clear_error()
        var offset = 0
        while offset < bytes.count {
            let rc = bytes.withUnsafeBytes { raw in
                SSL_write(ssl, raw.baseAddress! + offset, Int32(clamping: bytes.count - offset))
            }
            guard rc > 0 else {
                failed = true
                throw .protocolError(detail: TLSError.drainErrorQueue())
            }
            offset += Int(rc)
        }
    }

    /// Sends close_notify (once). Afterwards nothing more may be written.
    public func shutdown() {
        guard !failed, handshakeComplete else { return }
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
        ERR_clear_error()
    }

    // MARK: Facts

    /// What was negotiated, for the demo and tests.
    public var facts: TLSConnectionFacts {
        var facts = TLSConnectionFacts()
        facts.version = String(cString: SSL_get_version(ssl))
        if let cipher = SSL_get_current_cipher(ssl) { facts.cipherSuite = String(cString: SSL_CIPHER_get_name(cipher)) }
        var alpn: UnsafePointer<UInt8>?
        var alpnLength: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &alpn, &alpnLength)
        if let alpn, alpnLength > 0 {
            facts.applicationProtocol = String(decoding: UnsafeBufferPointer(start: alpn, count: Int(alpnLength)), as: UTF8.self)
        }
        if let name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) { facts.serverName = String(cString: name) }
        facts.resumed = SSL_session_reused(ssl) == 1
        if let peer = SSL_get1_peer_certificate(ssl) {
            facts.peerCertificate = CertificateSummary(peer)
            X509_free(peer)
        }
        return facts
    }

    static func isIPAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }
}

/// The negotiated parameters of a TLS connection.
public struct TLSConnectionFacts: Sendable, Hashable, CustomStringConvertible {
    public var version = ""
    public var cipherSuite = ""
    public var applicationProtocol: String?
    public var serverName: String?
    public var resumed = false
    public var peerCertificate: CertificateSummary?

    public var description: String {
        var text = "\(version) \(cipherSuite), ALPN \(applicationProtocol ?? "-"), SNI \(serverName ?? "-")"
        if resumed { text += ", resumed" }
        if let peer = peerCertificate { text += "\npeer: \(peer)" }
        return text
    }
}

/// The parts of a certificate a student looks at.
public struct CertificateSummary: Sendable, Hashable, CustomStringConvertible {
    public var subject: String
    public var issuer: String
    public var subjectAlternativeNames: [String]
    public var notBefore: String
    public var notAfter: String

    init(_ certificate: OpaquePointer) {
        subject = Self.name(X509_get_subject_name(certificate))
        issuer = Self.name(X509_get_issuer_name(certificate))
        notBefore = Self.time(X509_get0_notBefore(certificate))
        notAfter = Self.time(X509_get0_notAfter(certificate))
        subjectAlternativeNames = Self.alternativeNames(certificate)
    }

    public var description: String {
        "\(subject) issued by \(issuer), SAN \(subjectAlternativeNames.joined(separator: ", ")), valid \(notBefore) – \(notAfter)"
    }

    static func name(_ name: OpaquePointer?) -> String {
        guard let name, let bio = BIO_new(BIO_s_mem()) else { return "" }
        defer { BIO_free(bio) }
        _ = X509_NAME_print_ex(bio, name, 0, CTLSShim_XN_FLAG_RFC2253())
        return readAll(bio)
    }

    static func time(_ time: UnsafePointer<ASN1_TIME>?) -> String {
        guard let time, let bio = BIO_new(BIO_s_mem()) else { return "" }
        defer { BIO_free(bio) }
        _ = ASN1_TIME_print(bio, time)
        return readAll(bio)
    }

    static func readAll(_ bio: OpaquePointer) -> String {
        let pending = Int(BIO_ctrl_pending(bio))
        guard pending > 0 else { return "" }
        var bytes = [UInt8](repeating: 0, count: pending)
        let n = BIO_read(bio, &bytes, Int32(pending))
        return String(decoding: bytes.prefix(Int(max(0, n))), as: UTF8.self)
    }

    static func alternativeNames(_ certificate: OpaquePointer) -> [String] {
        guard let raw = X509_get_ext_d2i(certificate, NID_subject_alt_name, nil, nil) else { return [] }
        let names = OpaquePointer(raw)
        defer { GENERAL_NAMES_free(names) }
        var result: [String] = []
        for i in 0..<CTLSShim_GENERAL_NAMES_count(names) {
            guard let entry = CTLSShim_GENERAL_NAMES_value(names, i) else { continue }
            var kind: Int32 = 0
            guard let value = GENERAL_NAME_get0_value(entry, &kind) else { continue }
            // Only DNS names and IP addresses are strings; other kinds (directory names, otherName
            // …) are different structures and must not be read as one.
            guard kind == GEN_DNS || kind == GEN_IPADD else { continue }
            let string = UnsafePointer(value.assumingMemoryBound(to: ASN1_STRING.self))
            guard let data = ASN1_STRING_get0_data(string) else { continue }
            let bytes = Array(UnsafeBufferPointer(start: data, count: Int(max(0, ASN1_STRING_length(string)))))
            switch kind {
            case GEN_DNS: result.append("DNS:" + String(decoding: bytes, as: UTF8.self))
            case GEN_IPADD:
                if bytes.count == 4 {
                    result.append("IP:" + bytes.map(String.init).joined(separator: "."))
                } else if bytes.count == 16 {
                    result.append("IP:" + SocketAddress(family: .ipv6, addressBytes: bytes, port: 0).host)
                }
            default: break
            }
        }
        return result
    }
}
