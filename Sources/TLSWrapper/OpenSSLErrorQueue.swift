internal import COpenSSL

/// What OpenSSL's (per-thread) error queue held after a failed call: each entry's library and
/// reason code, which classify the failure, and its text, which only explains it.
///
/// Classifying by codes rather than by the words of the messages keeps a diagnosis stable when
/// OpenSSL rewords a message, and says exactly which rule failed (the `SSL_R_*` reasons).
struct OpenSSLErrorQueue: CustomStringConvertible {
    struct Entry {
        /// `ERR_LIB_*`: which part of OpenSSL raised it.
        var library: Int32
        /// The library's `*_R_*` reason code.
        var reason: Int32
        /// OpenSSL's own words, e.g. `error:0A000086:SSL routines::certificate verify failed`.
        var text: String
    }

    var entries: [Entry] = []

    /// Empties this thread's queue into a value.
    static func drain() -> OpenSSLErrorQueue {
        var queue = OpenSSLErrorQueue()
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            queue.entries.append(Entry(library: ERR_GET_LIB(code), reason: ERR_GET_REASON(code), text: text))
        }
        return queue
    }

    /// Whether the TLS library (libssl) reported one of `reasons` (`SSL_R_*`).
    func hasSSLReason(_ reasons: Int32...) -> Bool {
        entries.contains { $0.library == ERR_LIB_SSL && reasons.contains($0.reason) }
    }

    var description: String {
        entries.isEmpty ? "no details from OpenSSL" : entries.map(\.text).joined(separator: "; ")
    }
}
