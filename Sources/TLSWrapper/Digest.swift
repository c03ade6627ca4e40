internal import COpenSSL

/// Message digests from OpenSSL's libcrypto (the same library TLS uses), for the payment
/// layer's webhook signatures.
public enum Digest {
    /// SHA-512 of `bytes` as 128 lowercase hex digits.
    public static func sha512Hex(_ bytes: [UInt8]) -> String {
        OpenSSLLibrary.ensureInitialized()
        var digest = [UInt8](repeating: 0, count: 64)
        var length: UInt32 = 0
        let ok = bytes.withUnsafeBytes { input in
            EVP_Digest(input.baseAddress, input.count, &digest, &length, EVP_sha512(), nil)
        }
        precondition(ok == 1 && length == 64, "EVP_Digest(SHA-512) failed")
        let hex = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(128)
        for byte in digest {
            text.append(hex[Int(byte >> 4)])
            text.append(hex[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    public static func sha512Hex(_ text: String) -> String { sha512Hex(Array(text.utf8)) }
}
