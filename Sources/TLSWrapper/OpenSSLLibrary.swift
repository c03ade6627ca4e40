internal import COpenSSL

/// OpenSSL's one-time set-up, done explicitly before NetLab's first call into the library.
///
/// Why not leave it to OpenSSL (which initialises itself on first use): that path registers
/// an `atexit` handler that frees the library's global state when the process exits. A NetLab
/// server exits while its event-loop threads may still be finishing connections — freeing
/// `SSL` objects, writing a close_notify — and those calls would then run on freed state: a
/// crash or a hang at exit, rare and only under load. `OPENSSL_INIT_NO_ATEXIT` leaves the state
/// in place at exit (the kernel reclaims the process's memory anyway). The option only counts
/// on the *first* initialisation, hence every public entry point of this module that reaches
/// OpenSSL calls ``ensureInitialized()`` first.
enum OpenSSLLibrary {
    private static let initialized: Bool = {
        let options = UInt64(OPENSSL_INIT_NO_ATEXIT) | UInt64(OPENSSL_INIT_LOAD_SSL_STRINGS) | UInt64(OPENSSL_INIT_LOAD_CRYPTO_STRINGS)
        return OPENSSL_init_ssl(options, nil) == 1
    }()

    /// Initialises OpenSSL once (thread-safe: a Swift global's lazy initialiser runs once).
    /// If it fails, the next OpenSSL call reports the error through the usual paths.
    static func ensureInitialized() { _ = initialized }
}
