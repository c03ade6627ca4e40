/// The penalty score of a masked symbol (ISO/IEC 18004 §7.8.3, Table 11): the lower, the easier
/// to read. The encoder masks the symbol with each of the eight patterns and keeps the lowest.
///
/// Each rule counts a feature that confuses a reader's image processing:
///
/// - N1: a run of five or more modules of one colour in a row or column — 3 points, plus 1 for
///   each module beyond five. Long runs break the timing a reader infers from edges.
/// - N2: each 2×2 block of one colour — 3 points. A block of m×n modules has (m−1)(n−1) of them,
///   which is the standard's 3·(m−1)·(n−1).
/// - N3: dark-light-dark-dark-dark-light-dark (1:1:3:1:1, a finder pattern's cross-section) with
///   four light modules before or after it, in a row or column — 40 points. A reader could take
///   it for a finder pattern. Beyond the symbol's edge counts as light, because that is the
///   quiet zone the reader sees there.
/// - N4: the share of dark modules, 10 points for each full 5 % it is away from 50 %.
///
/// The score covers the whole symbol, function patterns and format information included: they
/// are what the reader sees next to the data.
enum QRPenalty {
    static let n1 = 3, n2 = 3, n3 = 40, n4 = 10

    /// The sum of the four rules for a `size`×`size` grid of modules, row by row (`true` = dark).
    static func score(_ modules: [Bool], size: Int) -> Int {
        let lines = rowsAndColumns(modules, size: size)
        return runs(lines) + blocks(modules, size: size) + finderLikePatterns(lines) + balance(modules)
    }

    /// Every row, then every column, of the grid: N1 and N3 apply to both directions alike.
    static func rowsAndColumns(_ modules: [Bool], size: Int) -> [[Bool]] {
        precondition(modules.count == size * size)
        let rows = (0..<size).map { y in Array(modules[y * size..<(y + 1) * size]) }
        let columns = (0..<size).map { x in (0..<size).map { y in modules[y * size + x] } }
        return rows + columns
    }

    /// N1 over the given lines.
    static func runs(_ lines: [[Bool]]) -> Int {
        var score = 0
        for line in lines {
            var length = 0
            for (index, module) in line.enumerated() {
                length = index > 0 && module == line[index - 1] ? length + 1 : 1
                // Scored as the run grows: 3 when it reaches five, 1 more per module after.
                if length == 5 { score += n1 } else if length > 5 { score += 1 }
            }
        }
        return score
    }

    /// N2: 2×2 blocks of one colour, overlapping ones counted separately.
    static func blocks(_ modules: [Bool], size: Int) -> Int {
        var score = 0
        for y in 0..<size - 1 {
            for x in 0..<size - 1 {
                let colour = modules[y * size + x]
                if modules[y * size + x + 1] == colour && modules[(y + 1) * size + x] == colour
                    && modules[(y + 1) * size + x + 1] == colour
                {
                    score += n2
                }
            }
        }
        return score
    }

    /// The 1:1:3:1:1 core that N3 looks for.
    private static let finderCore: [Bool] = [true, false, true, true, true, false, true]

    /// N3 over the given lines: each occurrence of the core counts once, whether the four light
    /// modules are before it, after it, or both.
    static func finderLikePatterns(_ lines: [[Bool]]) -> Int {
        var score = 0
        for line in lines where line.count >= finderCore.count {
            func isLight(_ range: Range<Int>) -> Bool { range.allSatisfy { $0 < 0 || $0 >= line.count || !line[$0] } }
            for start in 0...(line.count - finderCore.count) where line[start..<start + finderCore.count].elementsEqual(finderCore) {
                if isLight(start - 4..<start) || isLight(start + 7..<start + 11) { score += n3 }
            }
        }
        return score
    }

    /// N4: k whole 5 % steps between the dark share and 50 %, in integers:
    /// |100·dark/total − 50| / 5 = |20·dark − 10·total| / total.
    static func balance(_ modules: [Bool]) -> Int {
        let dark = modules.count(where: { $0 })
        return n4 * (abs(20 * dark - 10 * modules.count) / modules.count)
    }
}
