/// The codeword sequence of a symbol: the bytes to encode as one byte-mode segment, padded to the
/// symbol's data capacity, split into blocks, each block's Reed–Solomon codewords appended, and
/// all of it interleaved (ISO/IEC 18004 §7.4, §7.5, §7.6).
enum QRCodewords {
    /// Byte mode's 4-bit mode indicator.
    static let byteMode = 0b0100
    /// The pad codewords that fill unused capacity, alternately (§7.4.10): 11101100, 00010001.
    /// They are not zero so that the filler does not form large light areas.
    static let padCodewords: [UInt8] = [0xEC, 0x11]

    /// Everything for the symbol, in placement order: data and error correction, interleaved.
    static func make(_ bytes: [UInt8], version: Int, correction: QRCode.Correction) -> [UInt8] {
        interleave(dataCodewords(bytes, version: version, correction: correction), version: version, correction: correction)
    }

    /// The data codewords (§7.4): mode indicator, character count, the bytes, a terminator of up
    /// to four zero bits, zero bits to the next byte boundary, then pad codewords to capacity.
    /// The caller has chosen a version that fits (``QRTables/byteCapacity(version:correction:)``).
    static func dataCodewords(_ bytes: [UInt8], version: Int, correction: QRCode.Correction) -> [UInt8] {
        let capacity = QRTables.dataCodewords(version: version, correction: correction)
        precondition(bytes.count <= QRTables.byteCapacity(version: version, correction: correction))
        var bits = BitWriter()
        bits.append(byteMode, count: 4)
        bits.append(bytes.count, count: QRTables.characterCountBits(version: version))
        for byte in bytes { bits.append(Int(byte), count: 8) }
        // The terminator is cut short when the data fills the symbol to within four bits.
        bits.append(0, count: min(4, capacity * 8 - bits.count))
        bits.append(0, count: (8 - bits.count % 8) % 8)
        var codewords = bits.bytes
        for index in 0..<(capacity - codewords.count) { codewords.append(padCodewords[index % 2]) }
        return codewords
    }

    /// Splits the data codewords into the symbol's blocks, computes each block's error
    /// correction, and interleaves (§7.6): the first codeword of every block, then the second of
    /// every block, and so on — long blocks' extra last codeword after the short blocks have
    /// run out — then the error-correction codewords the same way. Interleaving spreads a
    /// local smudge across blocks, so each block has to repair only a little of it.
    static func interleave(_ data: [UInt8], version: Int, correction: QRCode.Correction) -> [UInt8] {
        let layout = QRTables.blocks(version: version, correction: correction)
        var dataBlocks: [[UInt8]] = []
        var start = 0
        for index in 0..<layout.count {
            let length = layout.dataCodewords + (index >= layout.count - layout.longBlocks ? 1 : 0)
            dataBlocks.append(Array(data[start..<start + length]))
            start += length
        }
        precondition(start == data.count, "data codewords do not fill the blocks exactly")
        let correctionBlocks = dataBlocks.map { ReedSolomon.remainder(of: $0, degree: layout.errorCorrectionCodewords) }

        var result: [UInt8] = []
        result.reserveCapacity(QRTables.totalCodewords[version - 1])
        for column in 0...layout.dataCodewords {
            for block in dataBlocks where column < block.count { result.append(block[column]) }
        }
        for column in 0..<layout.errorCorrectionCodewords {
            for block in correctionBlocks { result.append(block[column]) }
        }
        return result
    }
}
