import Testing

/// The suites that start whole payment systems in this process — bank, gateway, notification
/// service and shop, each an HTTPS server — run one test at a time. Started side by side,
/// dozens of systems' TLS handshakes miss the servers' deadlines on a two-core machine while
/// the rest of the tests run; one after another, each test's verdict depends on its own steps
/// only.
@Suite("Whole payment systems, one at a time", .serialized)
enum WholeSystems {}

typealias EndToEndTests = WholeSystems.EndToEndTests
typealias ClassGatewayTests = WholeSystems.ClassGatewayTests
typealias RaceTests = WholeSystems.RaceTests
typealias SavedCardTests = WholeSystems.SavedCardTests
typealias PayAccountTests = WholeSystems.PayAccountTests
