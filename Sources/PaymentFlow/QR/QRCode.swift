/// A QR code (ISO/IEC 18004, Model 2) holding a text: what a QRIS payment shows the customer to
/// scan. Built from scratch — no image or barcode library — so that each step of the standard
/// can be read here and checked by the tests:
///
///     text ─UTF-8─> bytes ─(byte mode, smallest version)─> data codewords
///          ─(blocks, Reed–Solomon, interleaving)─> codewords ─(zigzag)─> module grid
///          ─(8 masks, lowest penalty)─> symbol ─> SVG or PNG
///
/// The text is carried as one byte-mode segment of its UTF-8 bytes, without an ECI header.
/// Strictly, byte mode defaults to ISO-8859-1 and an ECI header would announce UTF-8; but
/// readers in practice recognise UTF-8 by itself (zbar does, see the tests), some mishandle
/// ECI, and QRIS payloads are ASCII anyway. (The numeric and alphanumeric modes pack digits and
/// capitals denser, at the price of splitting the text into segments; a 150-character QRIS
/// string fits version 8 at level M as it is.)
///
/// The value is immutable and `Sendable`: encode once, render as often as needed. Section,
/// table and annex numbers in these files are those of ISO/IEC 18004:2015.
public struct QRCode: Sendable {
    /// How much of the symbol can be damaged and still be read: about 7 % of the codewords at
    /// `.low`, 15 % at `.medium`, 25 % at `.quartile`, 30 % at `.high`. More correction means a
    /// bigger symbol for the same text.
    public enum Correction: Sendable, CaseIterable, Equatable {
        case low, medium, quartile, high

        /// The two bits the format information carries for this level (Table 12) — not in
        /// L, M, Q, H order.
        var formatBits: Int {
            switch self {
            case .low: 0b01
            case .medium: 0b00
            case .quartile: 0b11
            case .high: 0b10
            }
        }

        /// The row of this level in ``QRTables``' per-level tables.
        var tableRow: Int {
            switch self {
            case .low: 0
            case .medium: 1
            case .quartile: 2
            case .high: 3
            }
        }
    }

    /// Why a text cannot become a QR code.
    public enum EncodingError: Error, Sendable, Equatable, CustomStringConvertible {
        /// The text's UTF-8 is `bytes` long, but even version 40 holds at most `limit` bytes at
        /// the requested correction level (2953 at L, 2331 at M, 1663 at Q, 1273 at H).
        case tooLong(bytes: Int, limit: Int)

        public var description: String {
            switch self {
            case .tooLong(let bytes, let limit):
                "the text is \(bytes) bytes of UTF-8; a QR code holds at most \(limit) at this correction level"
            }
        }
    }

    /// Modules on a side, without the quiet zone: 17 + 4·version (21 to 177).
    public let size: Int
    /// The symbol version, 1–40: the smallest that holds the text at the correction level.
    public let version: Int
    /// The correction level the symbol was built with.
    public let correction: Correction
    /// The mask pattern (0–7) with the lowest penalty, as the format information names it.
    let mask: QRMask
    /// Row by row, `true` = dark.
    private let modules: [Bool]

    /// Encodes `text` as its UTF-8 bytes in byte mode, in the smallest version that holds them at
    /// `correction`, masked with whichever of the eight patterns scores the lowest penalty.
    /// Throws ``EncodingError/tooLong(bytes:limit:)`` when not even version 40 is big enough.
    public init(_ text: String, correction: Correction = .medium) throws(EncodingError) {
        try self.init(bytes: Array(text.utf8), correction: correction, mask: nil)
    }

    /// The encoder itself, for any bytes; `mask` forces a mask pattern instead of choosing the
    /// lowest penalty (tests read every pattern back).
    init(bytes: [UInt8], correction: Correction, mask forcedMask: QRMask?) throws(EncodingError) {
        guard let version = QRTables.versions.first(where: { QRTables.byteCapacity(version: $0, correction: correction) >= bytes.count })
        else {
            throw .tooLong(bytes: bytes.count, limit: QRTables.byteCapacity(version: QRTables.versions.upperBound, correction: correction))
        }
        var grid = QRMatrix(version: version)
        grid.place(QRCodewords.make(bytes, version: version, correction: correction))

        func finished(_ mask: QRMask) -> QRMatrix {
            var symbol = grid.masked(by: mask)
            symbol.drawFormatInformation(correction: correction, mask: mask)
            return symbol
        }
        // Each mask's score once; min(by:) keeps the first of equal scores, so a tie goes to
        // the lower pattern number.
        let mask = forcedMask ?? QRMask.all.map { ($0, QRPenalty.score(finished($0).modules, size: grid.size)) }.min { $0.1 < $1.1 }!.0
        self.version = version
        self.correction = correction
        self.size = grid.size
        self.mask = mask
        self.modules = finished(mask).modules
    }

    /// Whether the module at column `x`, row `y` (from the top-left corner, 0-based) is dark.
    /// Coordinates outside the symbol are light: that is the quiet zone around it.
    public subscript(x: Int, y: Int) -> Bool {
        guard (0..<size).contains(x), (0..<size).contains(y) else { return false }
        return modules[y * size + x]
    }
}
