import Foundation
import NetLabTestSupport
import Testing

@testable import PaymentFlow

/// The QR code suites, one test at a time: encoding (the debug build's eight masks over
/// every version) and decoding with zbarimg are pure CPU work on the test pool's threads, and
/// two at once on a two-core machine would starve every server other suites start.
@Suite("QR code", .serialized)
enum QRCodeSuites {}

extension QRCodeSuites {
/// Reed–Solomon and BCH against the worked examples and tables of ISO/IEC 18004.
@Suite("QR code: error correction", .timeLimit(.minutes(3)))
struct QRCodeErrorCorrectionTests {
    @Test("GF(256) modulo x⁸+x⁴+x³+x²+1: α⁸ = 0x1D, α²⁵⁵ = 1, every element times its inverse is 1")
    func field() {
        #expect(ReedSolomon.power(8) == 0x1D)
        #expect(ReedSolomon.power(255) == 1)
        #expect(ReedSolomon.power(25) == 3)  // log 3 = 25 (Annex A's table)
        for value in UInt8(1)...255 {
            let inverse = ReedSolomon.power(255 - ReedSolomon.logarithm(value))
            #expect(ReedSolomon.multiply(value, inverse) == 1)
        }
    }

    @Test("generator polynomials of degree 7 and 10, as α exponents (Annex A)")
    func generators() {
        #expect(ReedSolomon.generator(degree: 7).map(ReedSolomon.logarithm) == [0, 87, 229, 146, 149, 238, 102, 21])
        #expect(ReedSolomon.generator(degree: 10).map(ReedSolomon.logarithm) == [0, 251, 67, 46, 61, 118, 70, 64, 94, 32, 45])
    }

    @Test("the standard's example: \"01234567\" as 1-M gives EC codewords A5 24 D4 C1 ED 36 C7 87 2C 55")
    func standardExample() {
        // Annex I: the numeric-mode data codewords of "01234567", padded to version 1-M's 16.
        let data: [UInt8] = [0x10, 0x20, 0x0C, 0x56, 0x61, 0x80, 0xEC, 0x11, 0xEC, 0x11, 0xEC, 0x11, 0xEC, 0x11, 0xEC, 0x11]
        #expect(ReedSolomon.remainder(of: data, degree: 10) == [0xA5, 0x24, 0xD4, 0xC1, 0xED, 0x36, 0xC7, 0x87, 0x2C, 0x55])
    }

    @Test("\"HELLO WORLD\" as 1-M (alphanumeric data codewords) gives the well-known EC codewords")
    func helloWorld() {
        let data: [UInt8] = [32, 91, 11, 120, 209, 114, 220, 77, 67, 64, 236, 17, 236, 17, 236, 17]
        #expect(ReedSolomon.remainder(of: data, degree: 10) == [196, 35, 39, 119, 235, 215, 231, 226, 93, 23])
    }

    @Test("data followed by its EC codewords is a multiple of the generator: the remainder is zero")
    func codewordIsMultiple() {
        let data = Array("payment gateway".utf8)
        let block = data + ReedSolomon.remainder(of: data, degree: 18)
        // Dividing the whole codeword again, as a reader's syndrome check does, leaves nothing.
        #expect(ReedSolomon.remainder(of: block, degree: 18).allSatisfy { $0 == 0 })
    }

    @Test("format information (Annex C): M with mask 5, L with mask 0, M with mask 0 (the XOR mask itself), H/7, Q/0")
    func formatInformation() {
        #expect(BCHCode.formatInformation(correction: .medium, mask: 5) == 0b100_0000_1100_1110)
        #expect(BCHCode.formatInformation(correction: .low, mask: 0) == 0b111_0111_1100_0100)
        #expect(BCHCode.formatInformation(correction: .medium, mask: 0) == 0b101_0100_0001_0010)
        #expect(BCHCode.formatInformation(correction: .high, mask: 7) == 0x083B)
        #expect(BCHCode.formatInformation(correction: .quartile, mask: 0) == 0x355F)
    }

    @Test("the 32 format words differ pairwise in at least 7 bits (so 3 wrong bits are corrected)")
    func formatDistance() {
        let words = QRCode.Correction.allCases.flatMap { level in (0..<8).map { BCHCode.formatInformation(correction: level, mask: $0) } }
        for (i, a) in words.enumerated() {
            for b in words[(i + 1)...] { #expect((a ^ b).nonzeroBitCount >= 7) }
        }
    }

    @Test("version information (Annex D): versions 7, 8, 9, 10 and 40")
    func versionInformation() {
        #expect(BCHCode.versionInformation(version: 7) == 0x07C94)
        #expect(BCHCode.versionInformation(version: 8) == 0x085BC)
        #expect(BCHCode.versionInformation(version: 9) == 0x09A99)
        #expect(BCHCode.versionInformation(version: 10) == 0x0A4D3)
        #expect(BCHCode.versionInformation(version: 40) == 0x28C69)
    }
}

/// Codewords, capacities, version choice and the grid's fixed parts.
@Suite("QR code: layout", .timeLimit(.minutes(3)))
struct QRCodeLayoutTests {
    @Test("byte-mode data codewords of \"hi\" at 1-M: 0100, count 2, the bytes, terminator, then EC/11 padding")
    func dataCodewords() {
        let codewords = QRCodewords.dataCodewords(Array("hi".utf8), version: 1, correction: .medium)
        // 0100 00000010 01101000 01101001 0000 → 0x40 0x26 0x86 0x90
        #expect(codewords == [0x40, 0x26, 0x86, 0x90, 0xEC, 0x11, 0xEC, 0x11, 0xEC, 0x11, 0xEC, 0x11, 0xEC, 0x11, 0xEC, 0x11])
    }

    @Test("from version 10 the character count takes 16 bits")
    func longCount() {
        let codewords = QRCodewords.dataCodewords([0x41], version: 10, correction: .medium)
        // 0100 0000000000000001 01000001 0000 → 0x40 0x00 0x14 0x10
        #expect(Array(codewords.prefix(4)) == [0x40, 0x00, 0x14, 0x10])
    }

    @Test("5-Q (Table 9): two blocks of 15 data codewords, two of 16, 18 EC codewords each, interleaved")
    func blockStructure() {
        #expect(QRTables.blocks(version: 5, correction: .quartile)
            == QRTables.Blocks(count: 4, longBlocks: 2, dataCodewords: 15, errorCorrectionCodewords: 18))
        let data = (0..<62).map { UInt8($0) }
        let all = QRCodewords.interleave(data, version: 5, correction: .quartile)
        #expect(all.count == 134)
        // Blocks start at 0, 15, 30, 46; each round takes one codeword from every block, and
        // the long blocks' 16th codewords (45 and 61) come last among the data.
        #expect(Array(all.prefix(8)) == [0, 15, 30, 46, 1, 16, 31, 47])
        #expect(Array(all[56..<62]) == [14, 29, 44, 60, 45, 61])
        let firstBlockEC = ReedSolomon.remainder(of: Array(data[0..<15]), degree: 18)
        #expect(all[62] == firstBlockEC[0] && all[66] == firstBlockEC[1])
    }

    @Test("Table 1: each version's codewords and remainder bits are exactly the modules its function patterns leave")
    func capacitiesMatchTheGrid() {
        for version in QRTables.versions {
            let grid = QRMatrix(version: version)
            #expect(grid.size == 17 + 4 * version)
            #expect(grid.dataModuleCount == QRTables.totalCodewords[version - 1] * 8 + QRTables.remainderBits(version: version),
                    "version \(version)")
        }
    }

    @Test("Table 7 byte capacities", arguments: [
        (1, [17, 14, 11, 7]), (2, [32, 26, 20, 14]), (5, [106, 84, 60, 44]), (9, [230, 180, 130, 98]),
        (10, [271, 213, 151, 119]), (40, [2953, 2331, 1663, 1273]),
    ])
    func byteCapacities(version: Int, capacities: [Int]) {
        #expect(QRCode.Correction.allCases.map { QRTables.byteCapacity(version: version, correction: $0) } == capacities)
    }

    @Test("the smallest version that holds the text: a byte more than a version's capacity moves to the next")
    func versionBoundaries() throws {
        for level in QRCode.Correction.allCases {
            for version in 1..<40 {
                let capacity = QRTables.byteCapacity(version: version, correction: level)
                #expect(try QRCode(bytes: Array(repeating: 0x61, count: capacity), correction: level, mask: QRMask(0)).version == version)
                #expect(try QRCode(bytes: Array(repeating: 0x61, count: capacity + 1), correction: level, mask: QRMask(0)).version == version + 1)
            }
        }
        #expect(try QRCode("").version == 1)
        #expect(try QRCode(String(repeating: "a", count: 14)).version == 1)
        #expect(try QRCode(String(repeating: "a", count: 15)).version == 2)
        // 180 bytes fill 9-M; 181 need version 10, where the count grows to 16 bits.
        #expect(try QRCode(String(repeating: "a", count: 180)).version == 9)
        #expect(try QRCode(String(repeating: "a", count: 181)).version == 10)
        #expect(try QRCode(String(repeating: "a", count: 2331)).size == 177)
    }

    @Test("too long for version 40: the error names the UTF-8 length and the level's limit")
    func tooLong() {
        #expect(throws: QRCode.EncodingError.tooLong(bytes: 2332, limit: 2331)) { try QRCode(String(repeating: "a", count: 2332)) }
        #expect(throws: QRCode.EncodingError.tooLong(bytes: 1274, limit: 1273)) {
            try QRCode(String(repeating: "a", count: 1274), correction: .high)
        }
        // Counted in UTF-8 bytes, not characters: 1500 × "é" is 3000 bytes.
        #expect(throws: QRCode.EncodingError.tooLong(bytes: 3000, limit: 2953)) {
            try QRCode(String(repeating: "é", count: 1500), correction: .low)
        }
        #expect(QRCode.EncodingError.tooLong(bytes: 3000, limit: 2953).description.contains("at most 2953"))
    }

    @Test("finder patterns, timing, the dark module, and both copies of the format information agree")
    func functionPatterns() throws {
        let code = try QRCode("https://127.0.0.1:8443/v2/qris/qr-code", correction: .quartile)
        let n = code.size
        for (cx, cy) in [(3, 3), (n - 4, 3), (3, n - 4)] {
            #expect(code[cx, cy] && code[cx - 3, cy] && code[cx + 3, cy + 3] && !code[cx - 2, cy] && !code[cx + 2, cy + 2])
        }
        for i in 8..<(n - 8) { #expect(code[i, 6] == (i % 2 == 0) && code[6, i] == (i % 2 == 0)) }
        #expect(code[8, n - 8])
        #expect(!code[-1, 0] && !code[n, n])

        let expected = BCHCode.formatInformation(correction: .quartile, mask: code.mask.pattern)
        var first = 0, second = 0
        for (x, y) in [(0, 8), (1, 8), (2, 8), (3, 8), (4, 8), (5, 8), (7, 8), (8, 8), (8, 7), (8, 5), (8, 4), (8, 3), (8, 2), (8, 1), (8, 0)] {
            first = first << 1 | (code[x, y] ? 1 : 0)
        }
        for (x, y) in (0..<7).map({ (8, n - 1 - $0) }) + (0..<8).map({ (n - 8 + $0, 8) }) {
            second = second << 1 | (code[x, y] ? 1 : 0)
        }
        #expect(first == expected && second == expected)
    }

    @Test("from version 7 both version blocks hold the version information")
    func versionBlocks() throws {
        let code = try QRCode(String(repeating: "7", count: 122))
        #expect(code.version == 7)
        let expected = BCHCode.versionInformation(version: 7)
        for i in 0..<18 {
            let bit = expected >> i & 1 == 1
            #expect(code[code.size - 11 + i % 3, i / 3] == bit && code[i / 3, code.size - 11 + i % 3] == bit)
        }
    }
}

/// The penalty rules on hand-made rows, and the choice among the eight masks.
@Suite("QR code: masking", .timeLimit(.minutes(3)))
struct QRCodeMaskingTests {
    @Test("N1: 3 for a run of five, one more per extra module; shorter runs are free")
    func runs() {
        #expect(QRPenalty.runs([[true, true, true, true, true]]) == 3)
        #expect(QRPenalty.runs([Array(repeating: false, count: 7)]) == 5)
        #expect(QRPenalty.runs([[true, true, true, true, false, false, false, false, true]]) == 0)
        #expect(QRPenalty.runs([[true, true, true, true, true, false, false, false, false, false]]) == 6)
    }

    @Test("N2: 3 per 2×2 block of one colour, overlapping blocks each counted")
    func blocks() {
        #expect(QRPenalty.blocks(Array(repeating: true, count: 9), size: 3) == 12)
        #expect(QRPenalty.blocks([true, false, false, true], size: 2) == 0)
    }

    @Test("N3: 1:1:3:1:1 with four light modules on one side scores 40; the symbol's edge counts as light")
    func finderLike() {
        let core: [Bool] = [true, false, true, true, true, false, true]
        let light4: [Bool] = [false, false, false, false]
        #expect(QRPenalty.finderLikePatterns([[true] + light4 + core + [true]]) == 40)
        #expect(QRPenalty.finderLikePatterns([[true] + core + light4]) == 40)
        #expect(QRPenalty.finderLikePatterns([core + [false, false, false, true]]) == 40)  // light edge before it
        #expect(QRPenalty.finderLikePatterns([[true] + core + [false, false, false, true]]) == 0)
        #expect(QRPenalty.finderLikePatterns([[false] + core.map { !$0 } + light4]) == 0)
    }

    @Test("N4: 10 per full 5 % away from half dark")
    func balance() {
        #expect(QRPenalty.balance([true, false]) == 0)
        #expect(QRPenalty.balance(Array(repeating: true, count: 29) + Array(repeating: false, count: 21)) == 10)  // 58 %
        #expect(QRPenalty.balance(Array(repeating: true, count: 4)) == 100)
    }

    @Test("the chosen mask scores no more than any other, and each mask changes only data modules")
    func chosenMask() throws {
        let text = "00020101021226660014ID.CO.QRIS.WWW"
        let chosen = try QRCode(text)
        var scores: [Int] = []
        for mask in QRMask.all {
            let forced = try QRCode(bytes: Array(text.utf8), correction: .medium, mask: mask)
            let modules = (0..<forced.size).flatMap { y in (0..<forced.size).map { x in forced[x, y] } }
            scores.append(QRPenalty.score(modules, size: forced.size))
            #expect(forced[3, 3] && forced[8, forced.size - 8])
        }
        #expect(scores[chosen.mask.pattern] == scores.min())
        #expect(scores.firstIndex(of: scores.min()!) == chosen.mask.pattern)
    }
}

/// SVG and PNG, read back by the test.
@Suite("QR code: rendering", .timeLimit(.minutes(3)))
struct QRCodeRenderingTests {
    @Test("SVG: size, viewBox, crispEdges, one path whose runs are exactly the dark modules")
    func svg() throws {
        let code = try QRCode("Bayar Rp150.000")
        let svg = code.svg(moduleSize: 5, quietZone: 2)
        let side = code.size + 4
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(side * 5)\" height=\"\(side * 5)\" viewBox=\"0 0 \(side) \(side)\""))
        #expect(svg.contains("shape-rendering=\"crispEdges\""))
        #expect(svg.components(separatedBy: "<path").count == 2)

        var drawn = Set<[Int]>()
        for run in svg.matches(of: /M(\d+),(\d+)h(\d+)v1h-(\d+)z/) {
            let x = Int(run.1)! - 2, y = Int(run.2)! - 2, length = Int(run.3)!
            #expect(Int(run.4)! == length)
            for i in 0..<length { drawn.insert([x + i, y]) }
        }
        for y in 0..<code.size {
            for x in 0..<code.size { #expect(drawn.contains([x, y]) == code[x, y], "module (\(x), \(y))") }
        }
    }

    @Test("CRC-32 and Adler-32 check values: \"123456789\" → CBF43926, \"Wikipedia\" → 11E60398; IEND's CRC")
    func checksums() {
        #expect(PNGImage.crc32(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(PNGImage.adler32(Array("Wikipedia".utf8)) == 0x11E6_0398)
        #expect(PNGImage.chunk("IEND", []) == [0, 0, 0, 0, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82])
    }

    @Test("zlib stored blocks: at most 65535 bytes each, only the last marked final, and the empty stream")
    func storedBlocks() {
        let data = (0..<150_000).map { UInt8($0 % 251) }
        let stream = PNGImage.zlibStored(data)
        #expect(Array(stream.prefix(2)) == [0x78, 0x01] && (0x78 * 256 + 0x01) % 31 == 0)
        #expect(Self.inflateStored(stream) == data)
        #expect(stream.count == 2 + 3 * 5 + data.count + 4)
        #expect(PNGImage.zlibStored([]) == [0x78, 0x01, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x01])
    }

    @Test("PNG: signature, IHDR (1-bit grayscale), chunk CRCs, and pixels that match the modules", arguments: [(1, 0), (3, 4), (8, 4)])
    func png(moduleSize: Int, quietZone: Int) throws {
        let code = try QRCode("00020101021226660014ID.CO.QRIS.WWW0118936009140000123456", correction: .high)
        let file = code.png(moduleSize: moduleSize, quietZone: quietZone)
        #expect(Array(file.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])

        var chunks: [(type: String, data: [UInt8])] = []
        var offset = 8
        while offset < file.count {
            let length = Int(Self.readUInt32(file, offset))
            let typeAndData = Array(file[offset + 4..<offset + 8 + length])
            #expect(Self.readUInt32(file, offset + 8 + length) == PNGImage.crc32(typeAndData))
            chunks.append((String(decoding: typeAndData.prefix(4), as: UTF8.self), Array(typeAndData.dropFirst(4))))
            offset += 12 + length
        }
        #expect(chunks.map(\.type) == ["IHDR", "IDAT", "IEND"])

        let pixels = (code.size + 2 * quietZone) * moduleSize
        #expect(chunks[0].data == PNGImage.bigEndian(UInt32(pixels)) + PNGImage.bigEndian(UInt32(pixels)) + [1, 0, 0, 0, 0])
        let scanlines = Self.inflateStored(chunks[1].data)
        let stride = 1 + (pixels + 7) / 8
        #expect(scanlines.count == pixels * stride)
        for py in 0..<pixels {
            #expect(scanlines[py * stride] == 0)
            for px in 0..<pixels {
                let white = scanlines[py * stride + 1 + px / 8] >> (7 - px % 8) & 1 == 1
                let dark = code[px / moduleSize - quietZone, py / moduleSize - quietZone]
                if white == dark { Issue.record("pixel (\(px), \(py))"); return }
            }
        }
    }

    /// The data of a zlib stream made of stored deflate blocks, its Adler-32 checked.
    static func inflateStored(_ stream: [UInt8]) -> [UInt8] {
        var data: [UInt8] = []
        var offset = 2
        while true {
            let header = stream[offset]
            #expect(header & 0b110 == 0, "not a stored block")
            let length = Int(stream[offset + 1]) | Int(stream[offset + 2]) << 8
            let complement = Int(stream[offset + 3]) | Int(stream[offset + 4]) << 8
            #expect(length ^ complement == 0xFFFF && length <= 65535)
            data += stream[offset + 5..<offset + 5 + length]
            offset += 5 + length
            if header & 1 == 1 { break }
        }
        #expect(readUInt32(stream, offset) == PNGImage.adler32(data) && offset + 4 == stream.count)
        return data
    }

    static func readUInt32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        bytes[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }
}

/// Round trips through zbar, an independent decoder: what it reads must be what was encoded.
}  // extension QRCodeSuites
