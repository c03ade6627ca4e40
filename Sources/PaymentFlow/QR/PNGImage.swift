/// A black-and-white image and the PNG file that holds it, written by hand: the PNG
/// specification (W3C, ISO/IEC 15948), zlib (RFC 1950) and deflate (RFC 1951).
///
/// A PNG file is an 8-byte signature and then chunks: each is its data length (4 bytes,
/// big-endian), a 4-letter type, the data, and a CRC-32 of type and data. Three kinds suffice:
///
/// - IHDR: width, height, bit depth 1, colour type 0 (grayscale), no interlace;
/// - IDAT: the pixels, as a zlib stream of scanlines — each a filter byte (0, none) then the
///   row's pixels eight to a byte, leftmost in the most significant bit, 1 = white;
/// - IEND: the end, with no data.
///
/// The zlib stream does not compress: its deflate data are stored blocks, each a header byte,
/// the length and its one's complement, and up to 65535 bytes as they are. At one bit per pixel
/// a QR code is small anyway (version 40 at 8 pixels per module is under 300 KB), and stored
/// blocks are the part of deflate that can be checked by eye.
struct PNGImage {
    /// Pixels in a row.
    let width: Int
    /// Rows appended so far.
    private(set) var height = 0
    /// The scanlines, filter bytes included, exactly as they go into the zlib stream.
    private var scanlines: [UInt8] = []

    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    /// The most a stored deflate block can hold: its length field has 16 bits.
    static let maximumStoredBlock = 65535

    /// An image `width` pixels wide with no rows yet.
    init(width: Int) {
        precondition(width >= 1, "a PNG image is at least one pixel wide")
        self.width = width
    }

    /// Appends `times` identical rows; `black[x]` is the pixel in column x (`width` of them).
    mutating func appendRow(black: [Bool], times: Int = 1) {
        precondition(black.count == width, "a row has \(width) pixels, not \(black.count)")
        var packed = [UInt8](repeating: 0xFF, count: (width + 7) / 8)
        for (x, isBlack) in black.enumerated() where isBlack { packed[x / 8] &= ~(0x80 >> UInt8(x % 8)) }
        for _ in 0..<times { scanlines += [0] + packed }
        height += times
    }

    /// The PNG file.
    func encoded() -> [UInt8] {
        precondition(height >= 1, "a PNG image is at least one row high")
        var header = Self.bigEndian(UInt32(width)) + Self.bigEndian(UInt32(height))
        // Bit depth 1, colour type 0 (grayscale), compression 0 (deflate), filter method 0,
        // interlace 0 (none).
        header += [1, 0, 0, 0, 0]
        return Self.signature + Self.chunk("IHDR", header) + Self.chunk("IDAT", Self.zlibStored(scanlines)) + Self.chunk("IEND", [])
    }

    /// One chunk: length, type, data, CRC-32 of type and data.
    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let typeAndData = Array(type.utf8) + data
        return bigEndian(UInt32(data.count)) + typeAndData + bigEndian(crc32(typeAndData))
    }

    /// A zlib stream of `data` in stored (uncompressed) deflate blocks: the two-byte zlib header,
    /// the blocks, then the Adler-32 of `data`, big-endian.
    static func zlibStored(_ data: [UInt8]) -> [UInt8] {
        // CMF 0x78: deflate with a 32 KiB window; FLG 0x01: no preset dictionary, "fastest"
        // level, and check bits that make 0x7801 a multiple of 31, as RFC 1950 requires.
        var stream: [UInt8] = [0x78, 0x01]
        var start = 0
        repeat {
            let end = min(start + maximumStoredBlock, data.count)
            let length = UInt16(end - start)
            // Header bits: BFINAL (last block) then BTYPE 00 (stored); the rest of the byte pads
            // to the boundary stored blocks start on. LEN and NLEN are little-endian, unlike PNG.
            stream.append(end == data.count ? 1 : 0)
            stream += [UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8(~length >> 8)]
            stream += data[start..<end]
            start = end
        } while start < data.count
        return stream + bigEndian(adler32(data))
    }

    /// CRC-32 as PNG (and zip, and Ethernet) use it: reflected polynomial 0xEDB88320, initial
    /// value and final XOR 0xFFFFFFFF.
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = crcTable[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    /// The CRC of every byte value, so the loop above handles a byte at a time, not a bit.
    private static let crcTable: [UInt32] = (0..<256).map { value in
        var crc = UInt32(value)
        for _ in 0..<8 { crc = crc & 1 == 1 ? 0xEDB8_8320 ^ (crc >> 1) : crc >> 1 }
        return crc
    }

    /// Adler-32 (RFC 1950 §8.2): two sums modulo 65521, the largest prime below 2¹⁶ — the bytes
    /// plus one, and the running total of the first — packed as high and low 16 bits.
    static func adler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in bytes {
            a = (a + UInt32(byte)) % 65521
            b = (b + a) % 65521
        }
        return b << 16 | a
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }
}
