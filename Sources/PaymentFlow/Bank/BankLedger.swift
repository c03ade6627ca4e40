import Foundation

/// The bank's books, in one SQLite file: accounts, card approvals, 3-D Secure waits, reversals,
/// refunds, and the counter that numbers accounts and approvals.
///
/// Money is entered, never edited. What was taken for a reference (card approvals, paid
/// accounts) and what went back (refunds, reversals) are rows of their own; the money *held*
/// for a reference is the first minus the second (``holding(reference:)``), and the bank's
/// ``balance()`` is that over every reference. Only a 3-D Secure wait is ever deleted: it is
/// used once.
///
/// Every decision that moves money is one transaction (`BEGIN IMMEDIATE`): it reads the books
/// and writes its change under SQLite's write lock, so two decisions about one reference never
/// interleave (a reversal cannot slip between an approval's check and its write), and a crash
/// keeps the whole decision or none of it. Reopened on the same file, the books are as the last
/// commit left them. The counter only grows, so an account number or approval is never given
/// out twice, not even by a bank restarted on its old file.
public final class BankLedger: Sendable {
    /// What a decision about card money came to.
    public enum CardDecision: Equatable, Sendable {
        /// The money is held for the reference; `code` is the approval code.
        case approved(code: String)
        /// The card holder must enter an OTP first; nothing is held yet. `id` names the wait.
        case awaitingOTP(id: String)
        /// The OTP was wrong; nothing is held, and the wait is over.
        case otpRefused
        /// The reference was reversed: no money may be taken for it any more.
        case reversed
    }

    /// What paying an account at the ATM came to.
    public enum AccountPayment: Equatable, Sendable {
        /// The money is taken; the account as it now is.
        case paid(BankAPI.VirtualAccount)
        case noSuchAccount
        /// An account takes its amount once.
        case alreadyPaid
        /// Closed by the gateway (cancelled, expired or reversed): it takes no money.
        case closed
    }

    /// What a refund request came to.
    public enum RefundDecision: Equatable, Sendable {
        /// The money went back; `held` is what is still held for the reference.
        case refunded(held: Rupiah)
        /// This key already refunded this amount: nothing moved this time.
        case repeated(held: Rupiah)
        /// More than is held for the reference: refused, nothing moved.
        case exceedsHolding(held: Rupiah)
        /// This key already refunded a different amount (`amount`): refused, nothing moved.
        case keyReused(amount: Rupiah)
    }

    public let database: SQLiteDatabase

    /// Opens (creating if needed) the books at `path`; nil: books in memory, gone with the object.
    public init(path: String? = nil) throws {
        database = try SQLiteDatabase(path: path ?? ":memory:")
        try database.transaction { db in
            for statement in Self.schema { try db.execute(statement) }
        }
    }

    private static let schema = [
        // One row: the next number to give out (VA numbers, approvals, 3-D Secure ids).
        "CREATE TABLE IF NOT EXISTS counter (id INTEGER PRIMARY KEY CHECK (id = 1), next INTEGER NOT NULL)",
        "INSERT OR IGNORE INTO counter (id, next) VALUES (1, 1)",
        """
        CREATE TABLE IF NOT EXISTS accounts (
            va_number TEXT PRIMARY KEY,
            bank TEXT NOT NULL,
            amount INTEGER NOT NULL,
            reference TEXT NOT NULL,
            paid INTEGER NOT NULL DEFAULT 0,
            closed INTEGER NOT NULL DEFAULT 0,
            returned INTEGER NOT NULL DEFAULT 0)
        """,
        "CREATE INDEX IF NOT EXISTS accounts_by_reference ON accounts (reference)",
        // What the customer is shown with an account (JSON array of lines), when there is any.
        "CREATE TABLE IF NOT EXISTS account_notes (va_number TEXT PRIMARY KEY, note TEXT NOT NULL)",
        // A card approval: `number` comes from the counter, the approval code is its last six digits.
        "CREATE TABLE IF NOT EXISTS approvals (number INTEGER PRIMARY KEY, reference TEXT NOT NULL, amount INTEGER NOT NULL)",
        "CREATE INDEX IF NOT EXISTS approvals_by_reference ON approvals (reference)",
        // A wait for an OTP. A reversal marks it `dropped` rather than deleting it, so the OTP
        // that comes later is answered "reversed" (denied), not "no such authentication".
        """
        CREATE TABLE IF NOT EXISTS authentications (
            id TEXT PRIMARY KEY,
            reference TEXT NOT NULL,
            amount INTEGER NOT NULL,
            dropped INTEGER NOT NULL DEFAULT 0)
        """,
        "CREATE INDEX IF NOT EXISTS authentications_by_reference ON authentications (reference)",
        // A reversed reference, and the money its reversals gave back.
        // An e-wallet (GoPay): what it has spent of its opening balance.
        "CREATE TABLE IF NOT EXISTS wallets (wallet TEXT PRIMARY KEY, spent INTEGER NOT NULL DEFAULT 0)",
        // A link of a wallet to a merchant's account: the token that account pays with (one per
        // link: a wallet linked to two shops has two; unlinking one revokes just that one).
        "CREATE TABLE IF NOT EXISTS wallet_links (token TEXT PRIMARY KEY, wallet TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0)",
        "CREATE TABLE IF NOT EXISTS reversals (reference TEXT PRIMARY KEY, returned INTEGER NOT NULL)",
        """
        CREATE TABLE IF NOT EXISTS refunds (
            reference TEXT NOT NULL,
            refund_key TEXT NOT NULL,
            amount INTEGER NOT NULL,
            PRIMARY KEY (reference, refund_key))
        """,
    ]

    // MARK: Cards

    /// Takes `amount` from a card for `reference`; for a card enrolled in 3-D Secure
    /// (`needsOTP`) it records a wait for the card holder's OTP instead. A reversed reference
    /// takes nothing and waits for nothing.
    public func authorize(_ amount: Rupiah, reference: String, needsOTP: Bool) throws -> CardDecision {
        try database.transaction { db in
            guard try !Self.isReversed(reference, db) else { return .reversed }
            let number = try Self.nextNumber(db)
            guard needsOTP else { return try Self.approve(amount, reference: reference, number: number, db) }
            let id = "3ds-\(number)-\(UUID().uuidString.prefix(8).lowercased())"
            try db.execute("INSERT INTO authentications (id, reference, amount) VALUES (?, ?, ?)",
                           [.text(id), .text(reference), .integer(amount.amount)])
            return .awaitingOTP(id: id)
        }
    }

    /// Ends the 3-D Secure wait `id` — a wait is used once, whatever the OTP — and, if
    /// `otpAccepted`, takes its money, unless its reference was reversed meanwhile (then the
    /// decision is ``CardDecision/reversed``). nil: no such wait (never made, or already used).
    public func authenticate(id: String, otpAccepted: Bool) throws -> (reference: String, amount: Rupiah, decision: CardDecision)? {
        try database.transaction { db in
            let rows = try db.execute("SELECT reference, amount FROM authentications WHERE id = ?", [.text(id)])
            guard let row = rows.first, let reference = row[0].text, let amount = row[1].integer.map(Rupiah.init(_:)) else { return nil }
            try db.execute("DELETE FROM authentications WHERE id = ?", [.text(id)])
            guard otpAccepted else { return (reference, amount, .otpRefused) }
            guard try !Self.isReversed(reference, db) else { return (reference, amount, .reversed) }
            return (reference, amount, try Self.approve(amount, reference: reference, number: try Self.nextNumber(db), db))
        }
    }

    private static func approve(_ amount: Rupiah, reference: String, number: Int64, _ db: SQLiteDatabase.Statements) throws -> CardDecision {
        try db.execute("INSERT INTO approvals (number, reference, amount) VALUES (?, ?, ?)",
                       [.integer(number), .text(reference), .integer(amount.amount)])
        return .approved(code: String(format: "%06lld", number % 1_000_000))
    }

    // MARK: Accounts

    /// Opens an account that takes exactly `amount` for `reference`, under a number never given
    /// out before: `requested` if no account ever had it (a merchant's custom number), else the
    /// counter's next free one. An account for a reversed reference is born closed: it can never
    /// take money. `note` is kept with it for the customer to see.
    public func openAccount(bank: String, amount: Rupiah, reference: String, requested: String? = nil,
                            note: [String]? = nil) throws -> BankAPI.VirtualAccount {
        try database.transaction { db in
            var number = requested ?? ""
            while try number.isEmpty || Self.account(number, db) != nil {
                number = "8127" + String(format: "%011lld", try Self.nextNumber(db))
            }
            let account = BankAPI.VirtualAccount(va_number: number, bank: bank, amount: amount, reference: reference,
                                                 closed: try Self.isReversed(reference, db), note: note)
            try db.execute("INSERT INTO accounts (va_number, bank, amount, reference, closed) VALUES (?, ?, ?, ?, ?)",
                           [.text(account.va_number), .text(bank), .integer(amount.amount), .text(reference), .integer(account.closed ? 1 : 0)])
            if let note, let text = try? JSONEncoder().encode(note) {
                try db.execute("INSERT INTO account_notes (va_number, note) VALUES (?, ?)", [.text(number), .text(String(decoding: text, as: UTF8.self))])
            }
            return account
        }
    }

    /// The account numbered `number`, if there is one.
    public func account(number: String) throws -> BankAPI.VirtualAccount? {
        try database.read { db in try Self.account(number, db) }
    }

    /// Every account opened for `reference`, oldest first.
    public func accounts(reference: String) throws -> [BankAPI.VirtualAccount] {
        try database.read { db in
            try db.execute("SELECT va_number FROM accounts WHERE reference = ? ORDER BY rowid", [.text(reference)])
                .compactMap { try Self.account($0[0].text ?? "", db) }
        }
    }

    /// The customer pays account `number` (at the ATM, or in the e-wallet app).
    public func pay(number: String) throws -> AccountPayment {
        try database.transaction { db in
            guard var account = try Self.account(number, db) else { return .noSuchAccount }
            guard !account.paid else { return .alreadyPaid }
            guard !account.closed else { return .closed }
            try db.execute("UPDATE accounts SET paid = 1 WHERE va_number = ?", [.text(number)])
            account.paid = true
            return .paid(account)
        }
    }

    // MARK: Wallets

    /// What paying from a wallet came to.
    public enum WalletPayment: Equatable, Sendable {
        case account(AccountPayment)
        /// The wallet holds less than the account's amount: nothing moved.
        case insufficientBalance(Rupiah)
        /// The token is no wallet's (never issued, or the link was revoked).
        case unknownToken
        /// From ``SandboxWallets/pinThreshold`` up the customer's PIN is needed, and it was
        /// missing or wrong: nothing moved.
        case pinRequired
    }

    /// Links `wallet` to one more account: the new link's token.
    public func linkWallet(_ wallet: String) throws -> String {
        let token = UUID().uuidString.lowercased()
        try database.transaction { db in
            try db.execute("INSERT OR IGNORE INTO wallets (wallet) VALUES (?)", [.text(wallet)])
            try db.execute("INSERT INTO wallet_links (token, wallet) VALUES (?, ?)", [.text(token), .text(wallet)])
        }
        return token
    }

    /// Revokes the link `token` (the merchant unbound the account): it pays nothing any more.
    /// False if there is no such link.
    public func unlinkWallet(token: String) throws -> Bool {
        try database.transaction { db in
            try db.execute("UPDATE wallet_links SET revoked = 1 WHERE token = ?", [.text(token)])
            return db.changes > 0
        }
    }

    /// The wallet the live link `token` stands for, if any.
    public func wallet(token: String) throws -> String? {
        try database.read { db in try Self.wallet(token: token, db) }
    }

    private static func wallet(token: String, _ db: SQLiteDatabase.Statements) throws -> String? {
        try db.execute("SELECT wallet FROM wallet_links WHERE token = ? AND revoked = 0", [.text(token)]).first?[0].text
    }

    /// What `wallet` can still spend.
    public func walletBalance(_ wallet: String) throws -> Rupiah {
        try database.read { db in try Self.walletBalance(wallet, db) }
    }

    private static func walletBalance(_ wallet: String, _ db: SQLiteDatabase.Statements) throws -> Rupiah {
        let spent = try db.execute("SELECT spent FROM wallets WHERE wallet = ?", [.text(wallet)]).first?[0].integer ?? 0
        return Rupiah(SandboxWallets.openingBalance.amount - spent)
    }

    /// The wallet whose link token is `token` pays account `number`: the account is paid and
    /// the wallet charged in one step, or neither.
    public func payFromWallet(token: String, number: String, pin: String? = nil, recurring: Bool = false) throws -> WalletPayment {
        try database.transaction { db in
            guard let wallet = try Self.wallet(token: token, db) else { return .unknownToken }
            guard var account = try Self.account(number, db) else { return .account(.noSuchAccount) }
            guard !account.paid else { return .account(.alreadyPaid) }
            guard !account.closed else { return .account(.closed) }
            if !recurring, account.amount >= SandboxWallets.pinThreshold, !ConstantTime.equal(pin ?? "", SandboxWallets.pin) { return .pinRequired }
            let balance = try Self.walletBalance(wallet, db)
            guard balance >= account.amount else { return .insufficientBalance(balance) }
            try db.execute("UPDATE wallets SET spent = spent + ? WHERE wallet = ?", [.integer(account.amount.amount), .text(wallet)])
            try db.execute("UPDATE accounts SET paid = 1 WHERE va_number = ?", [.text(number)])
            account.paid = true
            return .account(.paid(account))
        }
    }

    /// Closes account `number` (the gateway cancelled or expired its payment): it takes no more
    /// money. Money it already took stays held (a reversal gives that back). nil: no such account.
    public func close(number: String) throws -> BankAPI.VirtualAccount? {
        try database.transaction { db in
            try db.execute("UPDATE accounts SET closed = 1 WHERE va_number = ?", [.text(number)])
            return try Self.account(number, db)
        }
    }

    private static func account(_ number: String, _ db: SQLiteDatabase.Statements) throws -> BankAPI.VirtualAccount? {
        let rows = try db.execute("""
            SELECT a.va_number, a.bank, a.amount, a.reference, a.paid, a.closed, a.returned, n.note
            FROM accounts a LEFT JOIN account_notes n ON n.va_number = a.va_number WHERE a.va_number = ?
            """, [.text(number)])
        return rows.first.map { row in
            BankAPI.VirtualAccount(va_number: row[0].text ?? "", bank: row[1].text ?? "", amount: Rupiah(row[2].integer ?? 0),
                                   reference: row[3].text ?? "", paid: row[4].integer == 1, closed: row[5].integer == 1,
                                   returned: row[6].integer == 1,
                                   note: row[7].text.flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) })
        }
    }

    // MARK: Giving money back

    /// Undoes everything `reference` did: a 3-D Secure wait is dropped (its OTP will be
    /// denied), every account of the
    /// reference closes, and all money still held for it goes back to the customer (paid
    /// accounts are marked `returned`). The reference stays reversed: it can take no money
    /// again. Idempotent: a repeat finds nothing to undo.
    public func reverse(reference: String) throws -> BankAPI.Reversal {
        try database.transaction { db in
            let held = try Self.held(reference, db)
            try db.execute("UPDATE authentications SET dropped = 1 WHERE reference = ? AND dropped = 0", [.text(reference)])
            let droppedWait = db.changes > 0
            try db.execute("UPDATE accounts SET closed = 1 WHERE reference = ? AND closed = 0", [.text(reference)])
            let closedAccount = db.changes > 0
            if held > .zero {
                try db.execute("UPDATE accounts SET returned = 1 WHERE reference = ? AND paid = 1", [.text(reference)])
            }
            try db.execute("""
                INSERT INTO reversals (reference, returned) VALUES (?, ?)
                ON CONFLICT (reference) DO UPDATE SET returned = returned + excluded.returned
                """, [.text(reference), .integer(held.amount)])
            return BankAPI.Reversal(reference: reference, reversed: held > .zero || droppedWait || closedAccount, returned: held)
        }
    }

    /// Gives `amount` of what is held for `reference` back to the customer, once per `key`:
    /// the same key and amount again moves nothing (a gateway retrying a refund whose answer
    /// it lost); the same key with another amount, or more than is held, is refused.
    public func refund(reference: String, amount: Rupiah, key: String) throws -> RefundDecision {
        try database.transaction { db in
            let earlier = try db.execute("SELECT amount FROM refunds WHERE reference = ? AND refund_key = ?", [.text(reference), .text(key)])
            if let first = earlier.first?[0].integer.map(Rupiah.init(_:)) {
                return first == amount ? .repeated(held: try Self.held(reference, db)) : .keyReused(amount: first)
            }
            let held = try Self.held(reference, db)
            guard amount <= held else { return .exceedsHolding(held: held) }
            try db.execute("INSERT INTO refunds (reference, refund_key, amount) VALUES (?, ?, ?)",
                           [.text(reference), .text(key), .integer(amount.amount)])
            return .refunded(held: held - amount)
        }
    }

    // MARK: What is held

    /// Money held for `reference`: approvals and paid accounts, minus refunds and reversals.
    public func holding(reference: String) throws -> Rupiah {
        try database.read { db in try Self.held(reference, db) }
    }

    /// Money held across every reference.
    public func balance() throws -> Rupiah {
        try database.read { db in try Self.held(nil, db) }
    }

    /// Whether `reference` was reversed.
    public func isReversed(_ reference: String) throws -> Bool {
        try database.read { db in try Self.isReversed(reference, db) }
    }

    /// Money held for `reference`, or for all of them when nil.
    private static func held(_ reference: String?, _ db: SQLiteDatabase.Statements) throws -> Rupiah {
        let filter = reference == nil ? "" : "WHERE reference = ?1"
        let rows = try db.execute("""
            SELECT (SELECT COALESCE(SUM(amount), 0) FROM approvals \(filter))
                 + (SELECT COALESCE(SUM(amount), 0) FROM accounts \(reference == nil ? "WHERE" : "\(filter) AND") paid = 1)
                 - (SELECT COALESCE(SUM(amount), 0) FROM refunds \(filter))
                 - (SELECT COALESCE(SUM(returned), 0) FROM reversals \(filter))
            """, reference.map { [.text($0)] } ?? [])
        return Rupiah(rows.first?[0].integer ?? 0)
    }

    private static func isReversed(_ reference: String, _ db: SQLiteDatabase.Statements) throws -> Bool {
        try !db.execute("SELECT 1 FROM reversals WHERE reference = ?", [.text(reference)]).isEmpty
    }

    /// The next number of the durable counter (the counter moves on in the same transaction).
    private static func nextNumber(_ db: SQLiteDatabase.Statements) throws -> Int64 {
        let number = try db.execute("SELECT next FROM counter WHERE id = 1").first?[0].integer ?? 1
        try db.execute("UPDATE counter SET next = ? WHERE id = 1", [.integer(number + 1)])
        return number
    }
}
