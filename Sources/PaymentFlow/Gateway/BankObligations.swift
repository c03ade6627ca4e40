/// What the gateway owes the bank, settled until the bank confirms.
///
/// A transaction the gateway will not keep may still have money or an open account at the bank
/// — an authorisation that arrived after a cancel, a captured card cancelled before settlement,
/// an account for an expired order, a late payment into one — and a refund must reach the bank
/// to give the money back. The ledger marks these obligations in the same commit as the change
/// that caused them (``GatewayTransaction/reversalOwed``, ``RefundRecord/confirmedAtBank``);
/// this settles them: at once after the change, and again on every timer pass until the bank
/// confirms. Both bank calls are idempotent (a reversal undoes a reference once, a refund key
/// refunds once), so asking twice is harmless; forgetting is what would lose money.
struct BankObligations: Sendable {
    let store: any TransactionStore
    let bank: BankClient

    /// Settles what `transaction` owes; true when nothing is owed any more.
    @discardableResult
    func settle(_ transaction: GatewayTransaction) async -> Bool {
        var settled = true
        if transaction.reversalOwed {
            if (try? await bank.reverse(reference: transaction.transactionID)) != nil {
                _ = try? store.update(merchantID: transaction.merchantID, id: transaction.transactionID) { stored, _ in stored.reversalOwed = false }
            } else {
                settled = false
            }
        }
        for refund in transaction.refunds where !refund.confirmedAtBank {
            let request = BankAPI.Refund(amount: refund.amount, refund_key: refund.refundKey)
            if (try? await bank.refund(reference: transaction.transactionID, request)) != nil {
                _ = try? store.update(merchantID: transaction.merchantID, id: transaction.transactionID) { stored, _ in
                    if let index = stored.refunds.firstIndex(where: { $0.refundKey == refund.refundKey }) {
                        stored.refunds[index].confirmedAtBank = true
                    }
                }
            } else {
                settled = false
            }
        }
        return settled
    }

    /// Settles every open obligation; returns how many transactions are now clear.
    func settleAll() async throws -> Int {
        var cleared = 0
        for transaction in try store.bankObligations() where await settle(transaction) { cleared += 1 }
        return cleared
    }
}
