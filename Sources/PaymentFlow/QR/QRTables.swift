/// The numbers of ISO/IEC 18004 that a QR code's layout depends on, kept as data so each can be
/// checked against the standard line by line.
///
/// A symbol of version `v` is `17 + 4v` modules square. What is left after the function patterns
/// (finders, timing, alignment, format and version information) holds codewords: 8 modules each,
/// plus 0–7 remainder modules that hold nothing. Those codewords are split into blocks, and each
/// block carries its own Reed–Solomon error correction (Table 9); the rest carries the data.
enum QRTables {
    static let versions = 1...40

    /// Table 1: codewords (data and error correction together) in a symbol of version 1…40.
    static let totalCodewords: [Int] = [
        26, 44, 70, 100, 134, 172, 196, 242, 292, 346,
        404, 466, 532, 581, 655, 733, 815, 901, 991, 1085,
        1156, 1258, 1364, 1474, 1588, 1706, 1828, 1921, 2051, 2185,
        2323, 2465, 2611, 2761, 2876, 3034, 3196, 3362, 3532, 3706,
    ]

    /// Table 1: modules left over after the last whole codeword (always light before masking).
    static func remainderBits(version: Int) -> Int {
        switch version {
        case 1: 0
        case 2...6: 7
        case 7...13: 0
        case 14...20: 3
        case 21...27: 4
        case 28...34: 3
        default: 0
        }
    }

    /// Table 9: error-correction codewords in each block, by level (L, M, Q, H) then version 1…40.
    /// Every block of a symbol has the same number, whatever its data length.
    static let errorCorrectionCodewordsPerBlock: [[Int]] = [
        [7, 10, 15, 20, 26, 18, 20, 24, 30, 18, 20, 24, 26, 30, 22, 24, 28, 30, 28, 28,
         28, 28, 30, 30, 26, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
        [10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26,
         26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28],
        [13, 22, 18, 26, 18, 24, 18, 22, 20, 24, 28, 26, 24, 20, 30, 24, 28, 28, 26, 30,
         28, 30, 30, 30, 30, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
        [17, 28, 22, 16, 22, 28, 26, 26, 24, 28, 24, 28, 22, 24, 24, 30, 28, 28, 26, 28,
         30, 24, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
    ]

    /// Table 9: error-correction blocks, by level (L, M, Q, H) then version 1…40. The standard
    /// lists up to two groups per symbol, the second with one more data codeword per block; that
    /// split follows from this count and ``totalCodewords`` (see ``blocks(version:correction:)``).
    static let blockCount: [[Int]] = [
        [1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6, 6, 6, 7, 8,
         8, 9, 9, 10, 12, 12, 12, 13, 14, 15, 16, 17, 18, 19, 19, 20, 21, 22, 24, 25],
        [1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16,
         17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49],
        [1, 1, 2, 2, 4, 4, 6, 6, 8, 8, 8, 10, 12, 16, 12, 17, 16, 18, 21, 20,
         23, 23, 25, 27, 29, 34, 34, 35, 38, 40, 43, 45, 48, 51, 53, 56, 59, 62, 65, 68],
        [1, 1, 2, 4, 4, 4, 5, 6, 8, 8, 11, 11, 16, 16, 18, 16, 19, 21, 25, 25,
         25, 34, 30, 32, 35, 37, 40, 42, 45, 48, 51, 54, 57, 60, 63, 66, 70, 74, 77, 81],
    ]

    /// Annex E: the row/column coordinates of alignment pattern centres for version 1…40. A
    /// pattern sits at every pair of these, except the three pairs that fall on a finder pattern.
    static let alignmentPatternCenters: [[Int]] = [
        [], [6, 18], [6, 22], [6, 26], [6, 30], [6, 34],
        [6, 22, 38], [6, 24, 42], [6, 26, 46], [6, 28, 50], [6, 30, 54], [6, 32, 58], [6, 34, 62],
        [6, 26, 46, 66], [6, 26, 48, 70], [6, 26, 50, 74], [6, 30, 54, 78], [6, 30, 56, 82],
        [6, 30, 58, 86], [6, 34, 62, 90],
        [6, 28, 50, 72, 94], [6, 26, 50, 74, 98], [6, 30, 54, 78, 102], [6, 28, 54, 80, 106],
        [6, 32, 58, 84, 110], [6, 30, 58, 86, 114], [6, 34, 62, 90, 118],
        [6, 26, 50, 74, 98, 122], [6, 30, 54, 78, 102, 126], [6, 26, 52, 78, 104, 130],
        [6, 30, 56, 82, 108, 134], [6, 34, 60, 86, 112, 138], [6, 30, 58, 86, 114, 142],
        [6, 34, 62, 90, 118, 146],
        [6, 30, 54, 78, 102, 126, 150], [6, 24, 50, 76, 102, 128, 154], [6, 28, 54, 80, 106, 132, 158],
        [6, 32, 58, 84, 110, 136, 162], [6, 26, 54, 82, 110, 138, 166], [6, 30, 58, 86, 114, 142, 170],
    ]

    /// The error-correction structure of one symbol: `count` blocks of `dataCodewords` data
    /// codewords each, and `longBlocks` of them (the last ones) with one data codeword more.
    struct Blocks: Equatable {
        let count: Int
        let longBlocks: Int
        let dataCodewords: Int
        let errorCorrectionCodewords: Int
    }

    /// How a symbol's codewords divide into blocks. The standard's two groups are "as even as
    /// possible": the short blocks hold `total / count` codewords, and the remainder of that
    /// division is the number of blocks that hold one more.
    static func blocks(version: Int, correction: QRCode.Correction) -> Blocks {
        let total = totalCodewords[version - 1]
        let count = blockCount[correction.tableRow][version - 1]
        let perBlock = errorCorrectionCodewordsPerBlock[correction.tableRow][version - 1]
        return Blocks(count: count, longBlocks: total % count, dataCodewords: total / count - perBlock, errorCorrectionCodewords: perBlock)
    }

    /// Data codewords in a symbol: the total minus every block's error correction.
    static func dataCodewords(version: Int, correction: QRCode.Correction) -> Int {
        let blocks = blocks(version: version, correction: correction)
        return totalCodewords[version - 1] - blocks.count * blocks.errorCorrectionCodewords
    }

    /// Width of byte mode's character count indicator (Table 3): 8 bits up to version 9, 16 after.
    static func characterCountBits(version: Int) -> Int {
        version <= 9 ? 8 : 16
    }

    /// The most bytes one byte-mode segment can carry (Table 7): the data bits less the 4-bit
    /// mode indicator and the count, in whole bytes.
    static func byteCapacity(version: Int, correction: QRCode.Correction) -> Int {
        (dataCodewords(version: version, correction: correction) * 8 - 4 - characterCountBits(version: version)) / 8
    }
}
