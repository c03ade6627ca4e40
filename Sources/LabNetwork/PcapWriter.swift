#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes the classic libpcap file format, the one Wireshark and tshark read
/// (https://wiki.wireshark.org/Development/LibpcapFileFormat):
///
///     global header, 24 bytes:  magic a1b2c3d4 · version 2.4 · timezone 0 · accuracy 0 ·
///                               snapshot length · link type (1 = Ethernet)
///     per frame, 16 bytes:      seconds · microseconds · bytes saved · bytes on the wire
///                               followed by the frame itself
///
/// All numbers in this machine's byte order: the magic number tells a reader which that was.
final class PcapWriter {
    static let magic: UInt32 = 0xA1B2_C3D4
    static let ethernet: UInt32 = 1
    static let snapshotLength: UInt32 = 262_144

    let path: String
    private let file: UnsafeMutablePointer<FILE>
    private(set) var frames = 0

    /// Creates (or truncates) the file at `path` and writes the global header.
    init(path: String) throws(LabNetworkError) {
        // Never through a symlink, 0600 (a plaintext run's capture holds card numbers and keys),
        // and not inherited by the programs this process starts.
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .captureFile(path: path, String(cString: strerror(errno))) }
        guard fchmod(fd, 0o600) == 0, let file = fdopen(fd, "wb") else {
            let why = String(cString: strerror(errno))
            close(fd)
            throw .captureFile(path: path, why)
        }
        self.path = path
        self.file = file
        var header: [UInt8] = []
        Self.append(Self.magic, to: &header)
        Self.append(UInt16(2), to: &header)
        Self.append(UInt16(4), to: &header)
        Self.append(UInt32(0), to: &header)  // this zone's offset from UTC: timestamps are UTC
        Self.append(UInt32(0), to: &header)  // timestamp accuracy: unused by every reader
        Self.append(Self.snapshotLength, to: &header)
        Self.append(Self.ethernet, to: &header)
        try write(header)
    }

    deinit { fclose(file) }

    /// Appends one frame seen at `time` (seconds and microseconds since 1970, UTC); `wireLength`
    /// is its length on the wire when `frame` holds only the start of it.
    func append(_ frame: ArraySlice<UInt8>, wireLength: Int? = nil, seconds: Int, microseconds: Int) throws(LabNetworkError) {
        let saved = min(frame.count, Int(Self.snapshotLength))
        var record: [UInt8] = []
        record.reserveCapacity(16 + saved)
        Self.append(UInt32(truncatingIfNeeded: seconds), to: &record)
        Self.append(UInt32(truncatingIfNeeded: microseconds), to: &record)
        Self.append(UInt32(saved), to: &record)
        Self.append(UInt32(wireLength ?? frame.count), to: &record)
        record += frame.prefix(saved)
        try write(record)
        frames += 1
    }

    /// Pushes what is buffered to the file.
    func flush() { fflush(file) }

    private func write(_ bytes: [UInt8]) throws(LabNetworkError) {
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        guard written == bytes.count else { throw .captureFile(path: path, String(cString: strerror(errno))) }
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value) { bytes += $0 }
    }
}
