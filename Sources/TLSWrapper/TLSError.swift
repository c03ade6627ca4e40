internal import COpenSSL

/// Everything that can go wrong in TLS, as cases a student can act on. Each keeps OpenSSL's
/// own words (`openSSL`) for the details.
public enum TLSError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The peer's certificate has expired (X509_V_ERR_CERT_HAS_EXPIRED).
    case certificateExpired(detail: String)
    /// The peer's certificate is not valid yet (X509_V_ERR_CERT_NOT_YET_VALID).
    case certificateNotYetValid(detail: String)
    /// The peer presented a self-signed certificate that is not a trusted root.
    case selfSignedCertificate(detail: String)
    /// The peer's certificate chains to a CA we do not trust.
    case unknownCertificateAuthority(detail: String)
    /// The certificate is valid but for other names than the one we connected to.
    case hostnameMismatch(expected: String, detail: String)
    /// Another certificate verification failure (`code` is X509_V_ERR_*).
    case certificateVerificationFailed(code: Int32, detail: String)
    /// The peer only speaks a TLS version older than our minimum (TLS 1.2).
    case protocolVersionTooOld(detail: String)
    /// The peer offers no application protocol we speak (ALPN; alert 120).
    case noApplicationProtocol(detail: String)
    /// The handshake failed for another reason (alerts, no shared cipher, …).
    case handshakeFailed(detail: String)
    /// The peer closed the TCP connection without a close_notify: the data may be truncated.
    case closedWithoutCloseNotify
    /// A TLS protocol error after the handshake.
    case protocolError(detail: String)
    /// Configuration or certificate material cannot be used (file missing, key mismatch …).
    case configuration(String)
    /// An operation on a stream that was already closed.
    case closed

    public var description: String {
        switch self {
        case .certificateExpired(let d): "the peer's certificate has expired (\(d))"
        case .certificateNotYetValid(let d): "the peer's certificate is not valid yet (\(d))"
        case .selfSignedCertificate(let d): "the peer's certificate is self-signed and not trusted (\(d))"
        case .unknownCertificateAuthority(let d): "the peer's certificate comes from an unknown CA (\(d))"
        case .hostnameMismatch(let expected, let d): "the peer's certificate is not valid for \(expected) (\(d))"
        case .certificateVerificationFailed(let code, let d): "certificate verification failed, X509 error \(code) (\(d))"
        case .protocolVersionTooOld(let d): "the peer's TLS version is too old (\(d))"
        case .noApplicationProtocol(let d): "no common application protocol (ALPN) (\(d))"
        case .handshakeFailed(let d): "TLS handshake failed (\(d))"
        case .closedWithoutCloseNotify: "the peer closed the connection without a TLS close_notify (possible truncation)"
        case .protocolError(let d): "TLS protocol error (\(d))"
        case .configuration(let d): "TLS configuration error: \(d)"
        case .closed: "the TLS stream is closed"
        }
    }

    /// Drains OpenSSL's (thread-local) error queue into one line.
    static func drainErrorQueue() -> String {
        OpenSSLErrorQueue.drain().description
    }

    /// Classifies a failed handshake from the verify result and the error queue.
    static func handshake(ssl: OpaquePointer, expectedHost: String?) -> TLSError {
        let verify = Int32(SSL_get_verify_result(ssl))
        let queue = OpenSSLErrorQueue.drain()
        // The verify result explains the failure only when verification is what failed.
        if verify != X509_V_OK && queue.hasSSLReason(SSL_R_CERTIFICATE_VERIFY_FAILED) {
            let text = String(cString: X509_verify_cert_error_string(Int(verify)))
            let detail = "\(text); \(queue.description)"
            switch verify {
            case X509_V_ERR_CERT_HAS_EXPIRED: return .certificateExpired(detail: detail)
            case X509_V_ERR_CERT_NOT_YET_VALID: return .certificateNotYetValid(detail: detail)
            case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
                return .selfSignedCertificate(detail: detail)
            // SELF_SIGNED_CERT_IN_CHAIN: the chain ends in a root the peer sent and we do not trust.
            case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT,
                X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
                return .unknownCertificateAuthority(detail: detail)
            case X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH:
                return .hostnameMismatch(expected: expectedHost ?? "?", detail: detail)
            default: return .certificateVerificationFailed(code: verify, detail: detail)
            }
        }
        let detail = queue.description
        if queue.hasSSLReason(SSL_R_UNSUPPORTED_PROTOCOL, SSL_R_TLSV1_ALERT_PROTOCOL_VERSION, SSL_R_BAD_PROTOCOL_VERSION_NUMBER) {
            return .protocolVersionTooOld(detail: detail)
        }
        if queue.hasSSLReason(SSL_R_NO_APPLICATION_PROTOCOL, SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL) {
            return .noApplicationProtocol(detail: detail)
        }
        if queue.hasSSLReason(SSL_R_UNEXPECTED_EOF_WHILE_READING) {
            return .handshakeFailed(detail: "the peer closed the connection during the handshake; \(detail)")
        }
        return .handshakeFailed(detail: detail)
    }
}
