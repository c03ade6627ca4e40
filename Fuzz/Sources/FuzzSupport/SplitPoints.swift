/// Where to cut an input into the pieces a network would deliver, chosen from the input
/// itself so that a saved crash replays exactly (no clock, no global seed).
public enum SplitPoints {
    /// Cuts `input` into pieces whose sizes follow a small generator seeded by a hash of the
    /// input: from single bytes to a few hundred, so boundaries land inside every token.
    public static func pieces(of input: [UInt8]) -> [ArraySlice<UInt8>] {
        var state = fnv1a(input) | 1
        var result: [ArraySlice<UInt8>] = []
        var start = input.startIndex
        while start < input.endIndex {
            // xorshift64: cheap, and the same on every platform.
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            let size = Int(state % 8 == 0 ? 1 : state % 97 + 1)
            let end = min(input.endIndex, start + size)
            result.append(input[start..<end])
            start = end
        }
        return result
    }

    /// FNV-1a over the bytes.
    public static func fnv1a(_ input: [UInt8]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in input {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }
}
