import Testing

@testable import TLSWrapper

/// AES-256-GCM sealing: the GCM specification's known answers, and every way a box can fail
/// to open.
@Suite("SealingKey (AES-256-GCM)")
struct SealingKeyTests {
    static func hex(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            bytes.append(UInt8(text[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }

    /// McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 13 and 14 (AES-256,
    /// zero key, zero 96-bit IV): ciphertext ‖ tag.
    @Test("GCM specification test cases 13 and 14", arguments: [
        ("", "530f8afbc74536b9a963b4f1c4cb738b"),
        ("00000000000000000000000000000000", "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919"),
    ])
    func knownAnswers(plaintext: String, expected: String) throws {
        let key = try #require(SealingKey(bytes: [UInt8](repeating: 0, count: 32)))
        let box = key.seal(Self.hex(plaintext), context: [], nonce: [UInt8](repeating: 0, count: 12))
        #expect(Array(box.dropFirst(12)) == Self.hex(expected))
        #expect(try key.open(box) == Self.hex(plaintext))
    }

    @Test("a box opens only with its key and context, unchanged; nonces differ between seals")
    func refusals() throws {
        let key = SealingKey.random(), other = SealingKey.random()
        let card = Array("4811111111111114|12|2030".utf8), context = Array("48111111abc1114".utf8)
        let box = key.seal(card, context: context)
        #expect(try key.open(box, context: context) == card)
        #expect(throws: SealingKey.OpenError.authenticationFailed) { try other.open(box, context: context) }
        #expect(throws: SealingKey.OpenError.authenticationFailed) { try key.open(box, context: Array("another".utf8)) }
        var flipped = box
        flipped[14] ^= 1
        #expect(throws: SealingKey.OpenError.authenticationFailed) { try key.open(flipped, context: context) }
        #expect(throws: SealingKey.OpenError.truncated) { try key.open(Array(box.prefix(20))) }
        #expect(key.seal(card).prefix(12) != key.seal(card).prefix(12), "a fresh nonce each time")
        #expect(SealingKey(bytes: [1, 2, 3]) == nil)
    }
}
