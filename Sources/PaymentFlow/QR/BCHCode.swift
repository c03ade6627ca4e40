/// The BCH codes that protect a QR code's own metadata: the format information (error-correction
/// level and mask, §7.9) and, from version 7 on, the version information (§7.10).
///
/// A reader must decode these before anything else, so they get their own small, strong codes
/// instead of Reed–Solomon: the value's bits are followed by the remainder of value·xⁿ divided by a
/// fixed generator polynomial over GF(2) (arithmetic on bits, where subtraction is XOR).
enum BCHCode {
    /// G(x) = x¹⁰ + x⁸ + x⁵ + x⁴ + x² + x + 1: the (15, 5) code of the format information.
    static let formatGenerator = 0b101_0011_0111
    /// G(x) = x¹² + x¹¹ + x¹⁰ + x⁹ + x⁸ + x⁵ + x² + 1: the (18, 6) code of the version information.
    static let versionGenerator = 0b1_1111_0010_0101
    /// XORed into the format information so that no level-and-mask gives all-light modules
    /// (level M with mask 0 is 00000, whose BCH bits are all zero too).
    static let formatMask = 0b101_0100_0001_0010

    /// The 15 format-information bits, most significant first: the level's two bits, the mask's
    /// three, then ten BCH bits, all XORed with ``formatMask``.
    static func formatInformation(correction: QRCode.Correction, mask: Int) -> Int {
        precondition((0..<8).contains(mask))
        let data = correction.formatBits << 3 | mask
        return (data << 10 | remainder(of: data, generator: formatGenerator, degree: 10)) ^ formatMask
    }

    /// The 18 version-information bits: six of the version, then twelve BCH bits (not masked:
    /// the version is never 0). Only symbols of version 7 or more carry them.
    static func versionInformation(version: Int) -> Int {
        precondition((7...40).contains(version))
        return version << 12 | remainder(of: version, generator: versionGenerator, degree: 12)
    }

    /// value(x)·x^degree mod generator(x), by long division: while the remainder still has a
    /// term of degree `degree` or more, subtract (XOR) the generator shifted up to cancel its top.
    static func remainder(of value: Int, generator: Int, degree: Int) -> Int {
        var remainder = value << degree
        while remainder >> degree != 0 {
            let top = Int.bitWidth - 1 - remainder.leadingZeroBitCount
            remainder ^= generator << (top - degree)
        }
        return remainder
    }
}
