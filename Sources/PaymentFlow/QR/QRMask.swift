/// One of the eight data mask patterns (ISO/IEC 18004 §7.8.2, Table 10).
///
/// Data modules are XORed with a mask so that the symbol has no large blocks of one colour, no
/// shapes a reader could take for a finder pattern, and about as many dark modules as light.
/// Which mask does that best depends on the data, so the encoder tries all eight (see
/// ``QRPenalty``) and writes the chosen one's number into the format information.
struct QRMask: Sendable, Equatable {
    /// The mask pattern reference, 0…7, as the format information carries it.
    let pattern: Int

    init(_ pattern: Int) {
        precondition((0..<8).contains(pattern), "mask patterns are numbered 0 to 7")
        self.pattern = pattern
    }

    static let all = (0..<8).map(QRMask.init)

    /// Whether the module in row `y` (the standard's i) and column `x` (its j) is inverted.
    /// Only data modules are masked; function patterns are never touched.
    func inverts(x: Int, y: Int) -> Bool {
        switch pattern {
        case 0: (y + x) % 2 == 0
        case 1: y % 2 == 0
        case 2: x % 3 == 0
        case 3: (y + x) % 3 == 0
        case 4: (y / 2 + x / 3) % 2 == 0
        case 5: (y * x) % 2 + (y * x) % 3 == 0
        case 6: ((y * x) % 2 + (y * x) % 3) % 2 == 0
        default: ((y + x) % 2 + (y * x) % 3) % 2 == 0
        }
    }
}
