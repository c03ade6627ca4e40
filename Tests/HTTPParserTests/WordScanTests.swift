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
}
