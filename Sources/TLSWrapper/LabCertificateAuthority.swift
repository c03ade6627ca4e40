internal import COpenSSL
internal import CTLSShim
import Foundation

/// A certificate authority for the lab, made in-process with OpenSSL's API: no `openssl`
/// command-line steps. EC P-256 keys, X.509 v3 with the extensions strict clients check
/// (critical basicConstraints and keyUsage, SKID/AKID, subjectAltName), random serials,
/// PEM files with private keys written 0600. Files already present are reused.
///
/// ```swift
/// let ca = try LabCertificateAuthority(directory: "certs")        // certs/ca.pem, certs/ca.key
/// let gateway = try ca.issue(name: "gateway.test")               // certs/gateway.test.pem/.key
/// ```
public final class LabCertificateAuthority: @unchecked Sendable {
    public let directory: String
    public var certificatePath: String { directory + "/ca.pem" }
    public var privateKeyPath: String { directory + "/ca.key" }
    private let certificate: OpaquePointer
    private let key: OpaquePointer

    /// A certificate and key on disk.
    public struct Issued: Sendable, Hashable {
        public let name: String
        public let certificatePath: String
        public let privateKeyPath: String
    }

    /// Opens the CA in `directory`, creating it (valid 10 years) when absent.
    public init(directory: String, commonName: String = "NetLab Lab CA") throws(TLSError) {
        OpenSSLLibrary.ensureInitialized()
        self.directory = directory
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw .configuration("cannot create \(directory): \(error)")
        }
        let certPath = directory + "/ca.pem"
        let keyPath = directory + "/ca.key"
        if FileManager.default.fileExists(atPath: certPath), FileManager.default.fileExists(atPath: keyPath) {
            certificate = try Self.readCertificate(certPath)
            key = try Self.readKey(keyPath)
        } else {
            let key = try Self.generateKey()
            let certificate = try Self.makeCertificate(
                commonName: commonName, key: key, issuer: nil, issuerKey: key, alternativeNames: [], isCA: true,
                validFrom: -1, validDays: 3650)
            try Self.write(Self.pem(certificate: certificate), to: certPath, mode: 0o644)
            try Self.write(Self.pem(key: key), to: keyPath, mode: 0o600)
            self.certificate = certificate
            self.key = key
        }
    }

    deinit {
        X509_free(certificate)
        EVP_PKEY_free(key)
    }

    /// Issues (or reuses) a leaf certificate for `name`, valid for `name` and `extraNames`
    /// (DNS names or IP addresses; by default localhost, 127.0.0.1 and ::1).
    ///
    /// - Parameters:
    ///   - validFromDays/validDays: the validity window relative to today (negative values
    ///     make expired or not-yet-valid fixtures for tests).
    ///   - reuse: keep existing files for `name` (the default) when they name everything asked
    ///     for, or always make new ones.
    public func issue(
        name: String, extraNames: [String] = ["localhost", "127.0.0.1", "::1"], validFromDays: Int = -1,
        validDays: Int = 825, reuse: Bool = true
    ) throws(TLSError) -> Issued {
        let issued = Issued(
            name: name, certificatePath: directory + "/\(name).pem", privateKeyPath: directory + "/\(name).key")
        if reuse, FileManager.default.fileExists(atPath: issued.certificatePath),
            FileManager.default.fileExists(atPath: issued.privateKeyPath),
            let existing = try? Self.summary(ofCertificateAt: issued.certificatePath),
            ([name] + extraNames).allSatisfy({ Self.names(existing.subjectAlternativeNames, include: $0) })
        {
            return issued
        }
        let leafKey = try Self.generateKey()
        defer { EVP_PKEY_free(leafKey) }
        var names = [name] + extraNames.filter { $0 != name }
        names = names.filter { !$0.isEmpty }
        let leaf = try Self.makeCertificate(
            commonName: name, key: leafKey, issuer: certificate, issuerKey: key, alternativeNames: names, isCA: false,
            validFrom: validFromDays, validDays: validDays)
        defer { X509_free(leaf) }
        try Self.write(Self.pem(certificate: leaf), to: issued.certificatePath, mode: 0o644)
        try Self.write(Self.pem(key: leafKey), to: issued.privateKeyPath, mode: 0o600)
        return issued
    }

    /// Whether subjectAltName entries ("DNS:localhost", "IP:::1") name `wanted` (a DNS name, in
    /// any case, or an IP address, in any spelling).
    static func names(_ entries: [String], include wanted: String) -> Bool {
        if wanted.isEmpty { return true }
        if let address = ipAddressBytes(wanted) {
            return entries.contains { $0.hasPrefix("IP:") && ipAddressBytes(String($0.dropFirst(3))) == address }
        }
        return entries.contains { $0.hasPrefix("DNS:") && $0.dropFirst(4).lowercased() == wanted.lowercased() }
    }

    /// The bytes of an IPv4 or IPv6 address in text (nil: not an address).
    static func ipAddressBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr(), v6 = in6_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: v4) { Array($0) } }
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: v6) { Array($0) } }
        return nil
    }

    /// Makes a deliberately broken certificate for tests and demonstrations of what
    /// verification catches: self-signed (no CA), or without any subjectAltName.
    public enum Defect: Sendable {
        case selfSigned
        case noSubjectAlternativeName
    }

    /// Issues a certificate for `name` with `defect` (always new files, `name` + ".bad").
    public func issueDefective(name: String, defect: Defect) throws(TLSError) -> Issued {
        let issued = Issued(
            name: name, certificatePath: directory + "/\(name).bad.pem", privateKeyPath: directory + "/\(name).bad.key")
        let leafKey = try Self.generateKey()
        defer { EVP_PKEY_free(leafKey) }
        let leaf: OpaquePointer
        switch defect {
        case .selfSigned:
            leaf = try Self.makeCertificate(
                commonName: name, key: leafKey, issuer: nil, issuerKey: leafKey, alternativeNames: [name], isCA: false,
                validFrom: -1, validDays: 30)
        case .noSubjectAlternativeName:
            leaf = try Self.makeCertificate(
                commonName: name, key: leafKey, issuer: certificate, issuerKey: key, alternativeNames: [], isCA: false,
                validFrom: -1, validDays: 30)
        }
        defer { X509_free(leaf) }
        try Self.write(Self.pem(certificate: leaf), to: issued.certificatePath, mode: 0o644)
        try Self.write(Self.pem(key: leafKey), to: issued.privateKeyPath, mode: 0o600)
        return issued
    }

    /// Details of a certificate file, for `netlab certs show`.
    public static func summary(ofCertificateAt path: String) throws(TLSError) -> CertificateSummary {
        OpenSSLLibrary.ensureInitialized()
        let certificate = try readCertificate(path)
        defer { X509_free(certificate) }
        return CertificateSummary(certificate)
    }

    // MARK: OpenSSL steps

    static func generateKey() throws(TLSError) -> OpaquePointer {
        ERR_clear_error()
        guard let ctx = EVP_PKEY_CTX_new_from_name(nil, "EC", nil) else {
            throw .configuration("EVP_PKEY_CTX_new_from_name: \(TLSError.drainErrorQueue())")
        }
        defer { EVP_PKEY_CTX_free(ctx) }
        var key: OpaquePointer?
        guard EVP_PKEY_keygen_init(ctx) == 1, EVP_PKEY_CTX_set_group_name(ctx, "P-256") == 1,
            EVP_PKEY_generate(ctx, &key) == 1, let key
        else { throw .configuration("EC P-256 key generation failed: \(TLSError.drainErrorQueue())") }
        return key
    }

    static func makeCertificate(
        commonName: String, key: OpaquePointer, issuer: OpaquePointer?, issuerKey: OpaquePointer,
        alternativeNames: [String], isCA: Bool, validFrom: Int, validDays: Int
    ) throws(TLSError) -> OpaquePointer {
        ERR_clear_error()
        guard let x = X509_new() else { throw .configuration("X509_new failed") }
        var ok = X509_set_version(x, 2) == 1  // v3
        // A random 127-bit serial (positive, as RFC 5280 §4.1.2.2 wants).
        if let serial = BN_new() {
            ok = ok && BN_rand(serial, 127, -1, 0) == 1 && BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) != nil
            BN_free(serial)
        }
        ok = ok && X509_time_adj_ex(X509_getm_notBefore(x), Int32(validFrom), 0, nil) != nil
        ok = ok && X509_time_adj_ex(X509_getm_notAfter(x), Int32(validFrom + validDays), 0, nil) != nil
        ok = ok && X509_set_pubkey(x, key) == 1
        let subject = X509_get_subject_name(x)
        ok = ok && X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_ASC, "NetLab", -1, -1, 0) == 1
        ok = ok && X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, commonName, -1, -1, 0) == 1
        ok = ok && X509_set_issuer_name(x, issuer.map { X509_get_subject_name($0) } ?? subject) == 1
        var extensions: [(Int32, String)] = [
            (NID_subject_key_identifier, "hash"),
        ]
        if isCA {
            extensions += [(NID_basic_constraints, "critical,CA:TRUE"), (NID_key_usage, "critical,keyCertSign,cRLSign")]
        } else {
            extensions += [
                (NID_basic_constraints, "critical,CA:FALSE"), (NID_key_usage, "critical,digitalSignature"),
                (NID_ext_key_usage, "serverAuth,clientAuth"),
            ]
            if issuer != nil { extensions.append((NID_authority_key_identifier, "keyid:always")) }
            if !alternativeNames.isEmpty {
                extensions.append((NID_subject_alt_name, alternativeNames.map { name in
                    TLSEngine.isIPAddress(name) ? "IP:\(name)" : "DNS:\(name)"
                }.joined(separator: ",")))
            }
        }
        var v3 = X509V3_CTX()
        X509V3_set_ctx(&v3, issuer ?? x, x, nil, nil, 0)
        for (nid, value) in extensions where ok {
            guard let ext = X509V3_EXT_conf_nid(nil, &v3, nid, value) else {
                ok = false
                break
            }
            ok = X509_add_ext(x, ext, -1) == 1
            X509_EXTENSION_free(ext)
        }
        ok = ok && X509_sign(x, issuerKey, EVP_sha256()) > 0
        guard ok else {
            X509_free(x)
            throw .configuration("making the certificate for \(commonName) failed: \(TLSError.drainErrorQueue())")
        }
        return x
    }

    static func pem(certificate: OpaquePointer) throws(TLSError) -> [UInt8] {
        guard let bio = BIO_new(BIO_s_mem()) else { throw .configuration("BIO_new failed") }
        defer { BIO_free(bio) }
        guard PEM_write_bio_X509(bio, certificate) == 1 else { throw .configuration("PEM_write_bio_X509 failed") }
        return Array(CertificateSummary.readAll(bio).utf8)
    }

    static func pem(key: OpaquePointer) throws(TLSError) -> [UInt8] {
        guard let bio = BIO_new(BIO_s_mem()) else { throw .configuration("BIO_new failed") }
        defer { BIO_free(bio) }
        guard PEM_write_bio_PrivateKey(bio, key, nil, nil, 0, nil, nil) == 1 else {
            throw .configuration("PEM_write_bio_PrivateKey failed")
        }
        return Array(CertificateSummary.readAll(bio).utf8)
    }

    static func readCertificate(_ path: String) throws(TLSError) -> OpaquePointer {
        guard let bio = BIO_new_file(path, "r") else { throw .configuration("cannot open \(path)") }
        defer { BIO_free(bio) }
        guard let certificate = PEM_read_bio_X509(bio, nil, nil, nil) else {
            throw .configuration("\(path) is not a PEM certificate: \(TLSError.drainErrorQueue())")
        }
        return certificate
    }

    static func readKey(_ path: String) throws(TLSError) -> OpaquePointer {
        guard let bio = BIO_new_file(path, "r") else { throw .configuration("cannot open \(path)") }
        defer { BIO_free(bio) }
        guard let key = PEM_read_bio_PrivateKey(bio, nil, nil, nil) else {
            throw .configuration("\(path) is not a PEM private key: \(TLSError.drainErrorQueue())")
        }
        return key
    }

    /// Writes a file created with `mode` from the start (a key is never readable by others,
    /// not even for a moment), replacing any old one.
    static func write(_ bytes: [UInt8], to path: String, mode: mode_t) throws(TLSError) {
        unlink(path)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw .configuration("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        _ = fchmod(fd, mode)  // the umask may have taken bits away from a 0644 file; keys stay 0600
        let written = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw .configuration("short write to \(path)") }
    }
}
