import Foundation

/// A charge as the Core API makes it: through the charge flow, then — for a linked GoPay
/// account — paid from the wallet. Shared by `POST /v2/charge` and subscriptions.
struct CoreCharge: Sendable {
    let flow: ChargeFlow
    let payAccounts: PayAccountAPI
    let linkedWallets: LinkedWalletCharge

    func callAsFunction(_ charge: ChargeRequest, merchant: MerchantAccount) async throws(GatewayError) -> ChargeFlow.Result {
        guard let linked = charge.linkedWallet else { return try await flow.charge(charge, merchant: merchant) }
        let token = try payAccounts.walletToken(accountID: linked.accountID, merchantID: merchant.merchantID, presented: linked.token)
        return try await linkedWallets.pay(try await flow.charge(charge, merchant: merchant), accountID: linked.accountID, token: token,
                                           recurring: charge.recurring, merchant: merchant)
    }
}
