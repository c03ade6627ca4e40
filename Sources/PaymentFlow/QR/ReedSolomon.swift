/// Reed–Solomon error correction as QR codes use it (ISO/IEC 18004 §7.5.2, Annex A).
///
/// Codewords are elements of GF(256): bytes, where addition is XOR and multiplication is that
/// of polynomials over GF(2) reduced modulo x⁸ + x⁴ + x³ + x² + 1 (0x11D). A block's `n` data
/// codewords are the coefficients of a polynomial D(x), highest power first; its `k` error
/// correction codewords are the remainder of D(x)·xᵏ divided by the generator
/// g(x) = (x − α⁰)(x − α¹)…(x − αᵏ⁻¹), with α = 2. Data followed by that remainder is then a
/// multiple of g(x), and a reader that finds it is not can locate and repair up to k/2 wrong
/// codewords.
enum ReedSolomon {
    /// αⁱ for i in 0..<255, repeated once so that `exponents[log a + log b]` needs no modulo.
    private static let exponents: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 510)
        var value = 1
        for i in 0..<255 {
            table[i] = UInt8(value)
            table[i + 255] = UInt8(value)
            value <<= 1
            // Overflowing x⁸ is replaced by x⁴ + x³ + x² + 1: that is what "modulo 0x11D" means.
            if value & 0x100 != 0 { value ^= 0x11D }
        }
        return table
    }()

    /// log_α of every non-zero byte (index 0 is unused: zero has no logarithm).
    private static let logarithms: [Int] = {
        var table = [Int](repeating: 0, count: 256)
        for i in 0..<255 { table[Int(exponents[i])] = i }
        return table
    }()

    /// αⁱ, for any i ≥ 0.
    static func power(_ i: Int) -> UInt8 { exponents[i % 255] }

    /// log_α of a non-zero element.
    static func logarithm(_ value: UInt8) -> Int {
        precondition(value != 0, "zero has no logarithm")
        return logarithms[Int(value)]
    }

    /// The product in GF(256): adding logarithms is multiplying powers of α.
    static func multiply(_ a: UInt8, _ b: UInt8) -> UInt8 {
        if a == 0 || b == 0 { return 0 }
        return exponents[logarithms[Int(a)] + logarithms[Int(b)]]
    }

    /// The generator polynomial of degree `degree`, highest power first, leading 1 included
    /// (`degree + 1` coefficients). Built one factor at a time: p(x)·(x + αⁱ) shifts p up one
    /// power and adds αⁱ·p (subtraction is addition in GF(2⁸)).
    static func generator(degree: Int) -> [UInt8] {
        precondition(degree >= 1)
        var polynomial: [UInt8] = [1]
        for i in 0..<degree {
            let root = power(i)
            var next = polynomial + [0]
            for j in 1..<next.count { next[j] ^= multiply(polynomial[j - 1], root) }
            polynomial = next
        }
        return polynomial
    }

    /// The `degree` error-correction codewords of `data`: the remainder of data(x)·x^degree
    /// divided by the generator, by long division one codeword at a time.
    static func remainder(of data: [UInt8], degree: Int) -> [UInt8] {
        let divisor = generator(degree: degree).dropFirst()
        var remainder = [UInt8](repeating: 0, count: degree)
        for codeword in data {
            // The coefficient that the next subtraction must cancel.
            let factor = codeword ^ remainder[0]
            remainder.removeFirst()
            remainder.append(0)
            for (j, coefficient) in divisor.enumerated() { remainder[j] ^= multiply(coefficient, factor) }
        }
        return remainder
    }
}
