// Theory of operation
// ===================
//
// A QR symbol of version v is a grid of 17 + 4v modules on a side. Coordinates here are x for
// the column (left to right) and y for the row (top to bottom), both from 0; the standard's
// figures say j and i. The grid is built in four passes:
//
// 1. Function patterns (`init(version:)`): what a reader uses to find, orient and sample the
//    symbol before it reads any data. Three finder patterns (7×7 concentric squares) with a light
//    separator in the top-left, top-right and bottom-left corners — the missing fourth tells the
//    orientation; timing patterns (alternating modules) along row 6 and column 6, from which the
//    reader measures the module pitch; 5×5 alignment patterns at the Annex E positions, which let
//    it follow a bent or skewed print; one always-dark module beside the bottom-left finder; and
//    the areas that will hold the format and version information. Every module written here is
//    marked in `isFunction`, and no later pass touches those.
// 2. Data placement (`place(_:)`): the interleaved codewords, most significant bit first, fill
//    every other module in a zigzag. The grid is cut into columns two modules wide, taken from the
//    right edge leftward; the first is walked upward, the next downward, and so on. Within a row of
//    a column the right module comes before the left. Function modules are skipped, bits simply
//    continue after them. Column 6 holds the vertical timing pattern and is no data column at all:
//    from there on the pairs are shifted one to the left (5–4, 3–2, 1–0). Whatever modules are
//    left after the last codeword (the 0–7 remainder bits) stay light.
// 3. Masking (`masked(by:)`): every data module is inverted where the mask's condition holds.
// 4. Format information (`drawFormatInformation(correction:mask:)`): 15 BCH-protected bits naming
//    the error-correction level and the mask. One copy runs around the top-left finder, the other
//    is split between the top-right and bottom-left ones, so a single smudge cannot hide both.
//    They have to be written after masking because they depend on the mask, and they are never
//    masked themselves (the XOR with 0x5412 in BCHCode plays that role).
//
// Versions 7 and up also carry the version, 18 BCH-protected bits, in two 6×3 blocks beside the
// top-right and bottom-left finders: from that size on, counting timing modules to learn the
// version is too error-prone. The version is known at pass 1, so it is drawn there.
//
// The encoder runs passes 1–2 once, then 3–4 for each of the eight masks, scores each result
// with QRPenalty and keeps the lowest (the first, on a tie).

/// The module grid of one QR symbol while it is built (see the theory of operation above).
struct QRMatrix: Sendable {
    let version: Int
    /// Modules on a side: 17 + 4·version.
    let size: Int
    /// Row by row, `true` = dark.
    private(set) var modules: [Bool]
    /// Row by row, `true` where a function pattern or the format/version information is: neither
    /// data nor masking may touch these modules.
    private(set) var isFunction: [Bool]

    /// A grid with every function pattern of `version` drawn, the format information area
    /// reserved (light until ``drawFormatInformation(correction:mask:)``), and no data.
    init(version: Int) {
        precondition(QRTables.versions.contains(version))
        self.version = version
        size = 17 + 4 * version
        modules = Array(repeating: false, count: size * size)
        isFunction = Array(repeating: false, count: size * size)

        // Timing first: the finders and alignment patterns drawn after overwrite its ends, and
        // where an alignment pattern crosses it, the two agree module for module.
        for i in 0..<size {
            setFunction(x: 6, y: i, dark: i % 2 == 0)
            setFunction(x: i, y: 6, dark: i % 2 == 0)
        }
        drawFinderPattern(centerX: 3, centerY: 3)
        drawFinderPattern(centerX: size - 4, centerY: 3)
        drawFinderPattern(centerX: 3, centerY: size - 4)

        let centers = QRTables.alignmentPatternCenters[version - 1]
        for (i, x) in centers.enumerated() {
            for (j, y) in centers.enumerated() {
                // Three of the pairs land on finder patterns: no alignment pattern there.
                let first = 0, last = centers.count - 1
                if (i, j) == (first, first) || (i, j) == (first, last) || (i, j) == (last, first) { continue }
                drawAlignmentPattern(centerX: x, centerY: y)
            }
        }

        drawFormatBits(0)
        setFunction(x: 8, y: size - 8, dark: true)
        if version >= 7 { drawVersionInformation() }
    }

    /// Whether the module at column `x`, row `y` is dark.
    subscript(x: Int, y: Int) -> Bool { modules[y * size + x] }

    /// How many modules are left for codewords: 8 per codeword plus the remainder bits.
    var dataModuleCount: Int { isFunction.count(where: { !$0 }) }

    /// Places `codewords` (all of the symbol's, interleaved) in the zigzag of pass 2.
    mutating func place(_ codewords: [UInt8]) {
        precondition(codewords.count * 8 <= dataModuleCount, "more codewords than the symbol holds")
        var bit = 0
        var right = size - 1
        while right >= 1 {
            // The vertical timing pattern is skipped as a whole column.
            if right == 6 { right = 5 }
            // Pairs numbered from the right edge: even ones go up, odd ones down. (right + 1) & 2
            // is that parity, the same before and after the shift past column 6.
            let upward = (right + 1) & 2 == 0
            for step in 0..<size {
                let y = upward ? size - 1 - step : step
                for x in [right, right - 1] where !isFunction[y * size + x] {
                    if bit < codewords.count * 8 {
                        modules[y * size + x] = codewords[bit / 8] >> (7 - bit % 8) & 1 == 1
                    }
                    bit += 1
                }
            }
            right -= 2
        }
    }

    /// A copy with every data module inverted where `mask` says so (pass 3).
    func masked(by mask: QRMask) -> QRMatrix {
        var copy = self
        for y in 0..<size {
            for x in 0..<size where !isFunction[y * size + x] && mask.inverts(x: x, y: y) {
                copy.modules[y * size + x].toggle()
            }
        }
        return copy
    }

    /// Writes both copies of the format information for `correction` and `mask` (pass 4).
    mutating func drawFormatInformation(correction: QRCode.Correction, mask: QRMask) {
        drawFormatBits(BCHCode.formatInformation(correction: correction, mask: mask.pattern))
    }

    // MARK: - Drawing

    private mutating func setFunction(x: Int, y: Int, dark: Bool) {
        modules[y * size + x] = dark
        isFunction[y * size + x] = true
    }

    /// A finder pattern and its separator: 9×9 around the centre, clipped at the symbol's edge.
    /// Counting rings outward from the centre (Chebyshev distance): 0–1 dark (the 3×3 core),
    /// 2 light, 3 dark (the outer square), 4 light (the separator).
    private mutating func drawFinderPattern(centerX: Int, centerY: Int) {
        for dy in -4...4 {
            for dx in -4...4 {
                let x = centerX + dx, y = centerY + dy
                guard (0..<size).contains(x), (0..<size).contains(y) else { continue }
                let ring = max(abs(dx), abs(dy))
                setFunction(x: x, y: y, dark: ring != 2 && ring != 4)
            }
        }
    }

    /// An alignment pattern: 5×5, dark centre, light ring, dark ring.
    private mutating func drawAlignmentPattern(centerX: Int, centerY: Int) {
        for dy in -2...2 {
            for dx in -2...2 {
                setFunction(x: centerX + dx, y: centerY + dy, dark: max(abs(dx), abs(dy)) != 1)
            }
        }
    }

    /// Both copies of 15 format bits (bit 14 the most significant). Around the top-left finder:
    /// bits 0–5 down column 8 from the top, 6–8 around the corner (skipping the timing module at
    /// row 6), 9–14 leftward along row 8 (skipping column 6). Second copy: bits 0–7 leftward along
    /// row 8 from the right edge, bits 8–14 down column 8 to the bottom edge.
    private mutating func drawFormatBits(_ bits: Int) {
        func bit(_ i: Int) -> Bool { bits >> i & 1 == 1 }
        for i in 0...5 { setFunction(x: 8, y: i, dark: bit(i)) }
        setFunction(x: 8, y: 7, dark: bit(6))
        setFunction(x: 8, y: 8, dark: bit(7))
        setFunction(x: 7, y: 8, dark: bit(8))
        for i in 9..<15 { setFunction(x: 14 - i, y: 8, dark: bit(i)) }

        for i in 0..<8 { setFunction(x: size - 1 - i, y: 8, dark: bit(i)) }
        for i in 8..<15 { setFunction(x: 8, y: size - 15 + i, dark: bit(i)) }
    }

    /// Both 6×3 blocks of the version information: bit i at column i / 3 and row size − 11 + i % 3
    /// in the bottom-left block, and transposed in the top-right one.
    private mutating func drawVersionInformation() {
        let bits = BCHCode.versionInformation(version: version)
        for i in 0..<18 {
            let dark = bits >> i & 1 == 1
            let across = i / 3, along = size - 11 + i % 3
            setFunction(x: along, y: across, dark: dark)
            setFunction(x: across, y: along, dark: dark)
        }
    }
}
