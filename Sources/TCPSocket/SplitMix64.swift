/// SplitMix64 (Steele, Lea and Flood, 2014): a small seeded random number generator. The same
/// seed gives the same numbers on every machine, so whatever a layer decides at random — a
/// retry's jitter, where a check splits its input, which packet a lab link drops — can be
/// replayed from the seed printed beside it. Not for secrets.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in 0..<1 (53 random bits).
    public mutating func nextUnit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
