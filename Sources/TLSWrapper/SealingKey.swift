internal import COpenSSL

/// AES-256-GCM from OpenSSL's libcrypto: data sealed so that it can be neither read nor changed
/// without the key (authenticated encryption). The payment layer seals saved cards with it
/// before they reach its store (PCI DSS 3.4: a stored card number is unreadable).
///
/// A sealed box is `nonce (12 bytes) ‖ ciphertext ‖ tag (16 bytes)`; every seal draws a fresh
/// random nonce, so one key seals up to 2³² boxes safely (NIST SP 800-38D §8.3) — far more than
/// a lab gateway stores. `context` is authenticated but not encrypted: a box sealed for one
/// record does not open as another's.
public struct SealingKey: Sendable {
    public enum OpenError: Error, Equatable {
        /// Shorter than a nonce and a tag: not a sealed box.
        case truncated
        /// The tag does not match: another key, another context, or the box was changed.
        case authenticationFailed
    }

    /// The 32 key bytes (not public: a key is used, never shown).
    let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        self.bytes = bytes
    }

    /// A new key from OpenSSL's CSPRNG.
    public static func random() -> SealingKey {
        SealingKey(bytes: randomBytes(32))!
    }

    static func randomBytes(_ count: Int) -> [UInt8] {
        OpenSSLLibrary.ensureInitialized()
        var bytes = [UInt8](repeating: 0, count: count)
        precondition(RAND_bytes(&bytes, Int32(count)) == 1, "RAND_bytes failed")
        return bytes
    }

    /// Seals `plaintext`, binding `context` to it.
    public func seal(_ plaintext: [UInt8], context: [UInt8] = []) -> [UInt8] {
        seal(plaintext, context: context, nonce: Self.randomBytes(12))
    }

    /// Sealing with a given nonce: for known-answer tests only (a nonce must never repeat).
    func seal(_ plaintext: [UInt8], context: [UInt8], nonce: [UInt8]) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: plaintext.count + 16)
        var tag = [UInt8](repeating: 0, count: 16)
        let ok = crypt(encrypt: true, nonce: nonce, input: plaintext, context: context, output: &output, tag: &tag)
        precondition(ok, "AES-256-GCM encryption failed")
        return nonce + output.prefix(plaintext.count) + tag
    }

    /// Opens a box made by ``seal(_:context:)`` with this key and the same `context`.
    public func open(_ box: [UInt8], context: [UInt8] = []) throws(OpenError) -> [UInt8] {
        guard box.count >= 28 else { throw .truncated }
        let nonce = Array(box.prefix(12)), ciphertext = Array(box.dropFirst(12).dropLast(16))
        var tag = Array(box.suffix(16))
        var output = [UInt8](repeating: 0, count: ciphertext.count + 16)
        guard crypt(encrypt: false, nonce: nonce, input: ciphertext, context: context, output: &output, tag: &tag) else {
            throw .authenticationFailed
        }
        return Array(output.prefix(ciphertext.count))
    }

    /// One pass of EVP's GCM: encrypts (and writes `tag`) or decrypts (and checks `tag`).
    private func crypt(encrypt: Bool, nonce: [UInt8], input: [UInt8], context: [UInt8], output: inout [UInt8], tag: inout [UInt8]) -> Bool {
        OpenSSLLibrary.ensureInitialized()
        guard let cipher = EVP_CIPHER_CTX_new() else { return false }
        defer { EVP_CIPHER_CTX_free(cipher) }
        let mode: Int32 = encrypt ? 1 : 0
        var length: Int32 = 0
        guard EVP_CipherInit_ex(cipher, EVP_aes_256_gcm(), nil, nil, nil, mode) == 1,
            EVP_CIPHER_CTX_ctrl(cipher, EVP_CTRL_GCM_SET_IVLEN, 12, nil) == 1,
            EVP_CipherInit_ex(cipher, nil, nil, bytes, nonce, mode) == 1
        else { return false }
        if !context.isEmpty {
            guard EVP_CipherUpdate(cipher, nil, &length, context, Int32(context.count)) == 1 else { return false }
        }
        var written: Int32 = 0
        if !input.isEmpty {
            guard EVP_CipherUpdate(cipher, &output, &written, input, Int32(input.count)) == 1 else { return false }
        }
        if !encrypt {
            guard EVP_CIPHER_CTX_ctrl(cipher, EVP_CTRL_GCM_SET_TAG, 16, &tag) == 1 else { return false }
        }
        let finished = output.withUnsafeMutableBufferPointer { buffer in
            EVP_CipherFinal_ex(cipher, buffer.baseAddress! + Int(written), &length)
        }
        guard finished == 1 else { return false }
        if encrypt {
            guard EVP_CIPHER_CTX_ctrl(cipher, EVP_CTRL_GCM_GET_TAG, 16, &tag) == 1 else { return false }
        }
        return true
    }
}
