import Foundation

/// The one door through which a transaction changes.
///
/// Every outcome from every path — a card's bank answer, an OTP, the bank's payment notice, a
/// timer, a merchant's action, crash recovery — is a ``TransactionState/Event`` recorded here,
/// inside the store's atomic read-change-write. Here, and only here, the gateway decides what
/// a change means:
/// - **Is it allowed?** The transaction's state machine says; a refused move changes nothing
///   and answers Midtrans' `412` (or `414`). Two paths racing for one transaction cannot both
///   win: the second sees what the first left.
/// - **Is it news?** A new status, a new fraud verdict, a new refund, or a charge's first
///   outcome: the merchant is notified, with the webhooks written in the same commit (the
///   transactional outbox). A failure the merchant never heard of (its charge request got the
///   error) is not news.
/// - **Does the bank owe something back?** Entering `cancel`, `expire` or `failure` — or `deny`
///   for a waiting payment, whose account is open — owes a reversal (the bank may have acted, or
///   may yet: a reversal also bars a late authorisation, and costs nothing where there was
///   none); a refund owes the bank's refund.
///   ``BankObligations`` settles them.
struct TransactionLedger: Sendable {
    let store: any TransactionStore
    let merchants: MerchantDirectory
    let now: @Sendable () -> Date

    /// Applies `event` to the merchant's transaction `id` (transaction or order id) atomically.
    /// `alongside` changes other fields in the same step, and runs only if the event is allowed
    /// (it may throw to refuse after all, changing nothing). Returns the transaction as stored.
    ///
    /// `alreadyDone` is asked first, in the same step: if it says the event already happened
    /// (a refund whose `refund_key` was seen before), nothing changes and the transaction is
    /// returned as it is — or it throws to refuse (the key reused for another amount).
    @discardableResult
    func record(_ event: TransactionState.Event, merchantID: String, id: String,
                alreadyDone: (GatewayTransaction) throws(GatewayError) -> Bool = { _ in false },
                alongside: (inout GatewayTransaction) throws(GatewayError) -> Void = { _ in }) throws(GatewayError) -> GatewayTransaction {
        try record(deciding: { _ in event }, merchantID: merchantID, id: id, alreadyDone: alreadyDone, alongside: alongside)
    }

    /// ``record(_:merchantID:id:alreadyDone:alongside:)`` with the event decided from the
    /// transaction as stored, in the same atomic step (a refund of "the rest" is the rest now).
    @discardableResult
    func record(deciding decide: (GatewayTransaction) throws(GatewayError) -> TransactionState.Event, merchantID: String, id: String,
                alreadyDone: (GatewayTransaction) throws(GatewayError) -> Bool = { _ in false },
                alongside: (inout GatewayTransaction) throws(GatewayError) -> Void = { _ in }) throws(GatewayError) -> GatewayTransaction {
        let merchant = try merchants.merchant(id: merchantID)
        let now = now()
        let stored: GatewayTransaction?
        do {
            stored = try store.update(merchantID: merchantID, id: id) { transaction, webhooks in
                let before = transaction
                if try alreadyDone(transaction) { return transaction }
                let event = try decide(transaction)
                let to: TransactionStatus, notify: Bool
                switch transaction.state.apply(event) {
                case .refused(let refusal): throw refusal  // the store writes nothing
                case .changed(_, let status, let news): (to, notify) = (status, news)
                }
                try alongside(&transaction)
                if transaction.state.owesReversal { transaction.reversalOwed = true }
                let news = notify || before.state.fraud != transaction.state.fraud || before.state.refunded != transaction.state.refunded
                    || (!before.announced && to != .failure)
                let announce = news && (to != .failure || before.announced)
                if announce, let merchant {
                    transaction.announced = true
                    webhooks = Webhook.drafts(for: transaction, merchant: merchant, dueAt: Timestamp.millis(now))
                }
                return transaction
            }
        } catch let refusal as TransactionState.Refusal {
            throw GatewayError(refusal)
        } catch {
            throw GatewayError(error)
        }
        guard let stored else { throw .transactionNotFound }
        return stored
    }

    /// Changes fields that are no outcome (the charge saga's step, the 3-D Secure authentication)
    /// atomically; `change` may throw to leave everything as it was. Nil: no such transaction.
    func amend<R>(merchantID: String, id: String, _ change: (inout GatewayTransaction) throws(GatewayError) -> R) throws(GatewayError) -> R {
        let result: R?
        do {
            result = try store.update(merchantID: merchantID, id: id) { transaction, _ in
                let status = transaction.state
                let value = try change(&transaction)
                precondition(transaction.state == status, "an amendment never changes the state: record an event")
                return value
            }
        } catch {
            throw GatewayError(error)
        }
        guard let result else { throw .transactionNotFound }
        return result
    }

    /// The merchant's transaction by transaction id or order id.
    func find(merchantID: String, id: String) throws(GatewayError) -> GatewayTransaction {
        guard let transaction = try storing({ try store.find(merchantID: merchantID, id: id) }) else { throw .transactionNotFound }
        return transaction
    }

}
