import PropertyBased
import Testing

@testable import HTTPParser

/// The eight-bytes-at-a-time tests may give false alarms (slow path) but never a false "all
/// plain": checked against the byte tables on words built from the bytes at the rules' edges.
@Suite("HeadScanner word tests", .timeLimit(.minutes(3)))
struct WordScanTests {
    static let edgeBytes: [UInt8] = [0x00, 0x01, 0x09, 0x0A, 0x0D, 0x1F, 0x20, 0x21, 0x22, 0x3A, 0x7E, 0x7F, 0x80, 0x81, 0xFE, 0xFF]
    static let word = Gen.element(of: edgeBytes).map { $0 ?? 0 }.array(of: 8)

    static func pack(_ bytes: [UInt8]) -> UInt64 {
        bytes.enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    }

    @Test("allPlainValueBytes is true exactly when no byte is a control or DEL")
    func valueWords() async {
        await propertyCheck(count: 2000, input: Self.word) { bytes in
            let plain = bytes.allSatisfy { $0 >= 0x20 && $0 != 0x7F }
            #expect(HeadScanner.allPlainValueBytes(Self.pack(bytes)) == plain, "\(bytes)")
        }
    }

    @Test("allTargetBytes is true exactly when every byte is visible ASCII")
    func targetWords() async {
        await propertyCheck(count: 2000, input: Self.word) { bytes in
            let plain = bytes.allSatisfy { (0x21...0x7E).contains($0) }
            #expect(HeadScanner.allTargetBytes(Self.pack(bytes)) == plain, "\(bytes)")
        }
    }

    /// The edges of the name ranges: around "-", the digits, the letters in both cases, and
    /// the bytes that `| 0x20` maps onto a letter ("@", "[", "`", "{").
    static let nameEdgeBytes: [UInt8] = [
        0x00, 0x0D, 0x20, 0x2C, 0x2D, 0x2E, 0x2F, 0x30, 0x39, 0x3A, 0x40, 0x41, 0x5A, 0x5B, 0x5F, 0x60, 0x61, 0x7A, 0x7B,
        0x7F, 0x80, 0xC1, 0xE1, 0xFF,
    ]
    static let nameWord = Gen.element(of: nameEdgeBytes).map { $0 ?? 0 }.array(of: 8)

    @Test("allCommonNameBytes is true exactly when every byte is a letter, a digit or \"-\"")
    func nameWords() async {
        await propertyCheck(count: 4000, input: Self.nameWord) { bytes in
            let plain = bytes.allSatisfy { byte in
                (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || byte == 0x2D
            }
            #expect(HeadScanner.allCommonNameBytes(Self.pack(bytes)) == plain, "\(bytes)")
        }
    }

    @Test("allCommonNameBytes holds for every common name's bytes, and each is tchar")
    func commonNames() {
        for name in ["Content-Length", "Transfer-Encoding", "User-Agent", "Accept-Language", "X-Request-Id-2"] {
            let bytes = Array(name.utf8)
            for start in 0...(bytes.count - 8) {
                #expect(HeadScanner.allCommonNameBytes(Self.pack(Array(bytes[start..<start + 8]))), "\(name) at \(start)")
            }
            #expect(bytes.allSatisfy { Grammar.tchar[Int($0)] })
        }
    }
}
