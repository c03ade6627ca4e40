import Foundation
import NetLabTestSupport
import Testing

@testable import PaymentFlow

extension QRCodeSuites {
/// zbarimg comes with Debian's zbar-tools, which .ci/run installs; without it these tests fail
/// and say so, like the Midtrans SDK test without its SDK.
@Suite("QR code: zbarimg reads it back", .timeLimit(.minutes(5)))
struct QRCodeDecodeTests {
    /// A QRIS payload as EMVCo lays it out: tag, two-digit length, value; merchant account under
    /// tag 26, amount 150000 under 54, the CRC-16 under 63. 150 characters.
    static let qris =
        "00020101021226660014ID.CO.QRIS.WWW01189360091400001234560215ID10200000123450303UMI52045812530336054061500005802ID5914KOPI NETLAB ID6007JAKARTA6304A1D5"

    @Test("short text, a 150-character QRIS payload, UTF-8 beyond ASCII, and the empty string")
    func texts() async throws {
        #expect(Self.qris.count == 150)
        let texts = [
            "Hello, NetLab!", Self.qris, "Bayar Rp150.000 — terima kasih ☕ Ñandú 日本語 🇮🇩",
            "https://127.0.0.1:8443/v2/qris/3f1c5b0e-7a4d-4c1e-9b8a-2d6f0e1a9c77/qr-code", "",
        ]
        let codes = try texts.map { try QRCode($0) }
        #expect(codes[1].version == 8)
        try await Self.expectDecoded(codes.map { $0.png() }, equal: texts)
    }

    @Test("the QRIS payload at each correction level")
    func levels() async throws {
        let codes = try QRCode.Correction.allCases.map { try QRCode(Self.qris, correction: $0) }
        #expect(codes.map(\.version) == [7, 8, 10, 12])
        try await Self.expectDecoded(codes.map { $0.png(moduleSize: 4) }, equal: Array(repeating: Self.qris, count: 4))
    }

    @Test("every mask pattern, in a version 1 and a version 10 symbol (with version information)")
    func masks() async throws {
        var images: [[UInt8]] = [], texts: [String] = []
        for text in ["mask test", String(Self.qris.prefix(120)) + String(Self.qris.prefix(80))] {
            for mask in QRMask.all {
                images.append(try QRCode(bytes: Array(text.utf8), correction: .medium, mask: mask).png(moduleSize: 4))
                texts.append(text)
            }
        }
        try await Self.expectDecoded(images, equal: texts)
    }

    @Test("versions where the layout changes, each filled to its exact capacity at level L (and 1, 7, 40 at H)")
    func versions() async throws {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#@!$&'()*+,;=")
        var images: [[UInt8]] = [], texts: [String] = []
        // Every version's layout is checked without a reader (QRCodeLayoutTests); the reader
        // gets the versions where the layout changes: alignment patterns gain a row (2, 7, 14,
        // 21, 28, 35), version information starts (7), and the largest.
        let sample = [1, 2, 6, 7, 13, 14, 20, 21, 27, 28, 34, 35, 40]
        let cases = sample.map { ($0, QRCode.Correction.low) } + [(1, .high), (7, .high), (40, .high)]
        for (version, level) in cases {
            let count = QRTables.byteCapacity(version: version, correction: level)
            let text = String((0..<count).map { alphabet[($0 * 7 + version) % alphabet.count] })
            let code = try QRCode(text, correction: level)
            #expect(code.version == version)
            images.append(code.png(moduleSize: 3))
            texts.append(text)
        }
        try await Self.expectDecoded(images, equal: texts)
    }

    /// zbarimg on PATH, or nil.
    static func zbarimg() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/zbarimg" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Writes each PNG to a file, runs `zbarimg --raw -q` on each, and expects exactly the
    /// matching text back (zbarimg prints a symbol's text and a newline).
    static func expectDecoded(_ images: [[UInt8]], equal texts: [String]) async throws {
        #expect(images.count == texts.count)
        guard let zbarimg = zbarimg() else {
            Issue.record("zbarimg is not installed: install zbar-tools (apt-get install zbar-tools; .ci/run installs it)")
            return
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-qr-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for (index, (image, text)) in zip(images, texts).enumerated() {
            let file = directory.appendingPathComponent("qr-\(index).png")
            try Data(image).write(to: file)
            // One process per image, so a failure names the image it belongs to.
            let child = try ChildProcess(executable: zbarimg, arguments: ["--raw", "-q", file.path], separateStandardError: true)
            let exit = await child.wait(timeout: .seconds(60))
            #expect(exit?.code == 0 && child.output == text + "\n",
                    "image \(index) (\(text.utf8.count) bytes): zbarimg \(exit.map(\.description) ?? "timed out") read \(child.output.debugDescription) \(child.errorOutput)")
        }
    }
}
}  // extension QRCodeSuites
