/// Comparing secrets (keys, tokens) without telling an attacker how much of a guess was right.
///
/// `==` on strings stops at the first byte that differs, so the time a refusal takes leaks the
/// length of the matching prefix; a guesser who can measure it finds a key byte by byte.
enum ConstantTime {
    /// True if `a` and `b` are the same bytes. The time taken depends only on the longer length,
    /// never on where (or whether) the two differ.
    static func equal(_ a: String, _ b: String) -> Bool {
        let given = Array(a.utf8), expected = Array(b.utf8)
        var difference = UInt8(given.count == expected.count ? 0 : 1)
        for i in 0..<max(given.count, expected.count) {
            difference |= (i < given.count ? given[i] : 0) ^ (i < expected.count ? expected[i] : 0)
        }
        return difference == 0
    }
}
