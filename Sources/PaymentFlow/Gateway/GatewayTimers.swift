import Foundation

/// What happens to transactions with time, run every few hundred milliseconds (compressed
/// clocks in tests and `--fast`), each through the ledger like any other outcome:
/// - **recovery:** charges cut off mid-call by a crash (``ChargeSaga/isInDoubtAfterCrash``,
///   not running in this process) are abandoned — `failure`, order id free, reversal owed;
/// - **expiry:** pending payments past their `expiry_time` (an unpaid VA, an OTP never typed)
///   expire, which owes the bank the close of the account or the drop of the authentication;
/// - **settlement:** card captures older than the settlement delay settle (D+1);
/// - **the bank's dues:** reversals and refunds the bank has not confirmed are asked again;
/// - **subscriptions:** the charges that are due are made (``Subscriptions``).
///
/// Several instances on one store (``InstanceCoordinator``): each recovers its own charges and
/// those of instances that are gone (the store knows who runs what); one at a time — the
/// holder of the timers' turn — runs the rest.
struct GatewayTimers: Sendable {
    let ledger: TransactionLedger
    let store: any TransactionStore
    let obligations: BankObligations
    let flow: ChargeFlow
    let subscriptions: Subscriptions
    let configuration: GatewayConfiguration
    let checkpoints: Checkpoints<Gateway.Step>
    let coordinator: any InstanceCoordinator

    /// One pass; returns how many transactions changed or were settled with the bank (only
    /// recovery's when another instance has the turn).
    func pass() async throws -> Int {
        let now = configuration.now()
        var changed = 0
        // Listed as in flight: abandoned only if, in the abandon's own atomic step, it is still in
        // the step it was listed in (one that finished, or moved on to an OTP check, has not
        // been cut off) and no call of this process is running it. Checked inside the step, so
        // a charge that starts or finishes meanwhile is never abandoned by mistake.
        let listed = try store.chargesInFlight()
        await checkpoints.pass(.recoveryListed)
        for transaction in listed {
            let cutOff: (GatewayTransaction) -> Bool = { stored in
                stored.charge == transaction.charge && stored.charge.isInDoubtAfterCrash && !flow.isRunning(stored.transactionID)
            }
            if record(.abandon, transaction, unlessDone: { !cutOff($0) }, { $0.charge = .finished }) { changed += 1 }
        }
        // Recovery runs on every instance (its own charges that an error left mid-call are
        // found by it alone; two instances abandoning one charge take turns in the ledger, and
        // the second finds it done). The rest is the turn-holder's.
        guard coordinator.holdsTimerTurn() else { return changed }
        for transaction in try store.expired(before: Timestamp.midtrans(now)) {
            if record(.expire, transaction) { changed += 1 }
        }
        let cutoff = Timestamp.midtrans(now.addingTimeInterval(-Timestamp.seconds(configuration.settlementDelay)))
        for transaction in try store.captured(before: cutoff) {
            if record(.settle, transaction, { $0.settlementTime = Timestamp.midtrans(now) }) { changed += 1 }
        }
        changed += try await obligations.settleAll()
        changed += await subscriptions.chargeDue()
        return changed
    }

    /// Records a timer's event; false when the transaction had moved on (a charge that finished
    /// meanwhile is left alone: the ledger refuses the move).
    private func record(_ event: TransactionState.Event, _ transaction: GatewayTransaction,
                        unlessDone done: (GatewayTransaction) -> Bool = { _ in false },
                        _ alongside: (inout GatewayTransaction) -> Void = { _ in }) -> Bool {
        var skipped = false
        do {
            _ = try ledger.record(event, merchantID: transaction.merchantID, id: transaction.transactionID,
                                  alreadyDone: { stored throws(GatewayError) in skipped = done(stored); return skipped },
                                  alongside: { stored throws(GatewayError) in alongside(&stored) })
            return !skipped
        } catch {
            return false
        }
    }
}
