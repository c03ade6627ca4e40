/// Bits appended most significant first and packed into bytes, as the data stream is defined.
struct BitWriter {
    private(set) var bytes: [UInt8] = []
    /// Bits appended so far (the last byte may be partly filled).
    private(set) var count = 0

    /// Appends the low `count` bits of `value`, most significant first.
    mutating func append(_ value: Int, count bitCount: Int) {
        precondition(bitCount >= 0 && value >> bitCount == 0, "\(value) does not fit in \(bitCount) bits")
        for i in stride(from: bitCount - 1, through: 0, by: -1) {
            if count % 8 == 0 { bytes.append(0) }
            if value >> i & 1 == 1 { bytes[bytes.count - 1] |= 0x80 >> UInt8(count % 8) }
            count += 1
        }
    }
}
