/// The GoPay wallets of Midtrans' sandbox, as the bank simulator (which plays GoPay too) keeps
/// them: any phone number is a wallet with Rp 1,000,000, except the numbers Midtrans' sandbox
/// and its official SDKs' tests use for the failures of account linking.
public enum SandboxWallets {
    /// What linking a wallet comes to.
    public enum Link: String, Codable, Sendable {
        case linked
        /// `channel_response_code` 105 "User Not Found".
        case userNotFound = "user_not_found"
        /// "Wallet is Blocked".
        case blocked
    }

    /// Every wallet's balance before it pays anything.
    public static let openingBalance = Rupiah(1_000_000)
    /// The PIN a customer types to approve a link or a payment.
    public static let pin = "112233"
    /// Payments from a linked wallet below this need no PIN (Midtrans' sandbox: Rp 100,000).
    public static let pinThreshold = Rupiah(100_000)

    /// What linking `phone` (without the country code) comes to.
    public static func link(phone: String) -> Link {
        switch phone {
        case "123450001": .userNotFound
        case "123450002": .blocked
        default: .linked
        }
    }
}
