import Foundation
import HTTPParser
import NetLab

/// The bank simulator's pages: the simulators Midtrans' sandbox gives testers, as plain HTML a
/// browser shows — an ATM (or mobile banking) for virtual accounts and bill keys, an e-wallet
/// app that reads a QRIS code, a convenience store's till for payment codes, and the page that
/// ShopeePay's deeplink and the Akulaku and Kredivo redirects open.
///
/// Every simulator is the same two steps. A GET looks the account up and shows it — bank,
/// amount, the merchant's note, paid or closed — and moves nothing. A form POST pays it through
/// the bank's one payment path, ``Bank/payAccount(_:how:)``, the one `POST /va/{number}/pay`
/// takes: the gateway gets its payment notice whichever page paid, and the outcome has the same
/// status (200 paid, 404 no such account, 409 already paid, 410 closed), here as a page with a
/// sentence a tester can read.
///
/// The templates are `Pages/bank/*.html`, served by ``PageAssets``: every value is escaped on
/// the way in (an account's note is the merchant's text), and no page runs a script. A POST
/// from another site is refused (403) before anything is read: a page elsewhere must not be able
/// to make a tester's browser pay.
struct BankPages: Sendable {
    let bank: Bank

    /// Where the customer pays. Each simulator has its own form, words and narration; the
    /// payment itself is the same.
    enum Place: Sendable {
        /// ATM or mobile banking: a virtual account or a Mandiri bill key.
        case atm
        /// The e-wallet app: a QRIS code, or an account number from a deeplink.
        case wallet
        /// An Indomaret or Alfamart till: a payment code.
        case cashier
        /// The payment page a deeplink or a pay-later redirect opens (`/pay/{number}`).
        case app

        /// The simulator's first page; the result pages link back to it.
        var home: String {
            switch self {
            case .atm: "/atm"
            case .wallet: "/wallet"
            case .cashier: "/cashier"
            case .app: "/"
            }
        }

        var homeLabel: String {
            switch self {
            case .atm: "Pay another account"
            case .wallet: "Pay another code"
            case .cashier: "Pay another payment code"
            case .app: "All simulators"
            }
        }

        /// The form the number is typed into; nil: the number comes in the page's path.
        var form: String? {
            switch self {
            case .atm: "bank/atm.html"
            case .wallet: "bank/wallet.html"
            case .cashier: "bank/cashier.html"
            case .app: nil
            }
        }

        /// The POST's form field holding the number (the payment page's is in its path).
        var field: String { self == .cashier ? "code" : "number" }

        /// Where the Pay (or Approve) button posts.
        func action(_ number: String) -> String {
            switch self {
            case .atm: "/atm/pay"
            case .wallet: "/wallet/pay"
            case .cashier: "/cashier/pay"
            case .app: "/pay/\(number)"
            }
        }

        var heading: String {
            switch self {
            case .atm: "Pay at the ATM"
            case .wallet, .app: "Approve the payment"
            case .cashier: "Pay at the cashier"
            }
        }

        var button: String {
            switch self {
            case .atm, .cashier: "Pay"
            case .wallet, .app: "Approve"
            }
        }

        /// What the customer typed or scanned, in a refusal's sentence.
        var noun: String { self == .cashier ? "payment code" : "account" }

        /// How the payment was made, for the bank's narration.
        var how: String {
            switch self {
            case .atm: "paid at the ATM"
            case .wallet: "paid in the e-wallet app"
            case .cashier: "paid at the cashier"
            case .app: "approved on the payment page"
            }
        }
    }

    /// Adds the pages' routes (see ``Bank``'s table) to `router`.
    func add(to router: inout Router) {
        router.get("/") { _ in try PageAssets.page("bank/index.html") }
        router.get("/assets/netlab.css") { _ in try PageAssets.asset("common/netlab.css") }
        router.get("/atm") { [self] request in try show(request.queryParameters["number"], at: .atm) }
        router.get("/cashier") { [self] request in try show(request.queryParameters["code"], at: .cashier) }
        router.get("/wallet") { [self] request in try wallet(request.queryParameters["qr"]) }
        router.get("/pay/{number}") { [self] request in try show(request.pathParameters["number"], at: .app) }
        router.post("/atm/pay") { [self] request in try await pay(request, at: .atm) }
        router.post("/wallet/pay") { [self] request in try await pay(request, at: .wallet) }
        router.post("/cashier/pay") { [self] request in try await pay(request, at: .cashier) }
        router.post("/pay/{number}") { [self] request in try await pay(request, at: .app) }
    }

    // MARK: Looking

    /// The account numbered `text` with its Pay button; the place's empty form when nothing
    /// was typed; 404 when there is no such account.
    func show(_ text: String?, at place: Place) throws -> HTTPResponse {
        let number = Self.cleaned(text)
        if number.isEmpty, let form = place.form { return try PageAssets.page(form) }
        guard let account = try bank.ledger.account(number: number) else { return try result(.noSuchAccount, number: number, at: place) }
        return try approval(account, at: place)
    }

    /// What the wallet makes of the text pasted into it.
    enum Scan: Equatable, Sendable {
        /// Pay account `number`; a QR code also names the merchant and the amount it asks for.
        case account(String, merchant: String?, amount: Rupiah?)
        /// Not payable: why, in a sentence for the customer.
        case refused(String)
    }

    /// Reads a QRIS string as a wallet does before it shows anything: the CRC must match (a
    /// mistyped or altered code is refused on the phone), field 26 must name the merchant's
    /// account (sub-field 01) and field 54 the amount. A bare account number, or the deeplink
    /// that ends in one (`…/pay/{number}`), has nothing to check.
    static func scan(_ text: String) -> Scan {
        let last = text.split(separator: "/").last.map(String.init) ?? text
        if text == last || text.contains("/pay/"), isAccountNumber(last) { return .account(last, merchant: nil, amount: nil) }
        guard EMVPayload.checksumMatches(text) else {
            return .refused("This QR code is damaged or was altered: its checksum (CRC) does not match. Nothing was paid.")
        }
        let fields = EMVPayload.fields(text)
        guard let account = fields["26"].flatMap({ EMVPayload.fields($0)["01"] }), !account.isEmpty else {
            return .refused("This QR code names no merchant account (field 26), so there is no one to pay. Nothing was paid.")
        }
        guard let amount = fields["54"].flatMap(Rupiah.init(parsing:)) else {
            return .refused("This QR code carries no amount (field 54): this wallet pays only a code made for one bill. Nothing was paid.")
        }
        let merchant = [fields["59"], fields["60"]].compactMap { $0 }.joined(separator: ", ")
        return .account(account, merchant: merchant.isEmpty ? nil : merchant, amount: amount)
    }

    /// The wallet: the empty form, or what the pasted text pays, with an Approve button.
    func wallet(_ text: String?) throws -> HTTPResponse {
        let text = (text ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { return try PageAssets.page("bank/wallet.html") }
        switch Self.scan(text) {
        case .refused(let why):
            return try refusal(status: 400, heading: "QR code refused", why, at: .wallet)
        case .account(let number, let merchant, let amount):
            guard let account = try bank.ledger.account(number: number) else { return try result(.noSuchAccount, number: number, at: .wallet) }
            // The customer approves the amount on the screen, and the bank takes the bill's:
            // a code asking for another amount than the bill is refused, never paid.
            if let amount, amount != account.amount {
                return try refusal(status: 400, heading: "QR code refused", """
                    This QR code asks for \(amount.displayText), but the merchant's bill is \(account.amount.displayText). \
                    Nothing was paid.
                    """, at: .wallet)
            }
            return try approval(account, at: .wallet, merchant: merchant)
        }
    }

    // MARK: Paying

    /// A form's payment: refused if posted from another site, else paid through the bank's one
    /// payment path, and the outcome's page.
    func pay(_ request: HTTPRequest, at place: Place) async throws -> HTTPResponse {
        if BrowserRequest.isCrossSite(request) {
            return try refusal(status: 403, heading: "Refused", "This form may only be posted from its own page: nothing was paid.", at: place)
        }
        let text = place == .app ? request.pathParameters["number"] : BrowserRequest.fields(request)[place.field]
        let number = Self.cleaned(text)
        return try result(try await bank.payAccount(number, how: place.how), number: number, at: place)
    }

    // MARK: Pages

    /// The account with its Pay button, or — paid or closed — with why it takes no money.
    func approval(_ account: BankAPI.VirtualAccount, at place: Place, merchant: String? = nil) throws -> HTTPResponse {
        let kind = Self.kind(of: account)
        let refusal: String? = account.paid ? "This \(kind) is already paid: there is nothing more to pay."
            : account.closed ? "This \(kind) is closed: its payment was cancelled or expired, so it takes no money." : nil
        let note = account.note ?? []
        return try PageAssets.page("bank/approve.html", [
            "heading": place.heading, "kind": kind, "number": account.va_number, "amount": account.amount.displayText,
            "state": Self.state(of: account),
            "merchant": merchant ?? "", "merchantClass": merchant == nil ? "hidden" : "",
            "note": note.joined(separator: "\n"), "noteClass": note.isEmpty ? "hidden" : "",
            "notice": refusal ?? "", "noticeClass": refusal == nil ? "hidden" : "notice bad",
            "action": place.action(account.va_number), "field": place.field, "button": place.button,
            "formClass": refusal == nil ? "" : "hidden",
            "back": place.home, "backLabel": place == .app ? place.homeLabel : "Back",
        ])
    }

    /// The page of a payment's outcome, with the status the JSON route answers.
    func result(_ payment: BankLedger.AccountPayment, number: String, at place: Place) throws -> HTTPResponse {
        let status = Bank.status(of: payment)
        switch payment {
        case .paid(let account):
            return try page(status: status, heading: "Paid", tone: "ok", """
                Paid \(account.amount.displayText) for \(Self.kind(of: account)) \(account.va_number). \
                The bank has told the payment gateway: the shop sees the payment in a moment.
                """, at: place)
        case .noSuchAccount:
            return try refusal(status: status, heading: "Not found", "No \(place.noun) has the number “\(number)”. Check it and try again.", at: place)
        case .alreadyPaid:
            return try refusal(status: status, heading: "Already paid", "This \(place.noun) is already paid: nothing was taken this time.", at: place)
        case .closed:
            return try refusal(status: status, heading: "Closed", """
                This \(place.noun) is closed: its payment was cancelled or expired, so it takes no money. Nothing was taken.
                """, at: place)
        }
    }

    func refusal(status: Int, heading: String, _ message: String, at place: Place) throws -> HTTPResponse {
        try page(status: status, heading: heading, tone: "bad", message, at: place)
    }

    private func page(status: Int, heading: String, tone: String, _ message: String, at place: Place) throws -> HTTPResponse {
        try PageAssets.page("bank/result.html", ["heading": heading, "tone": tone, "message": message, "back": place.home,
                                                 "backLabel": place.homeLabel], status: status)
    }

    // MARK: Words

    /// What the account is, as its customer knows it: "BCA virtual account", "Indomaret
    /// payment code", "GoPay payment".
    static func kind(of account: BankAPI.VirtualAccount) -> String {
        switch account.bank {
        case "bca": "BCA virtual account"
        case "bni": "BNI virtual account"
        case "bri": "BRI virtual account"
        case "permata": "Permata virtual account"
        case "cimb": "CIMB Niaga virtual account"
        case "mandiri": "Mandiri bill key"
        case "indomaret": "Indomaret payment code"
        case "alfamart": "Alfamart payment code"
        case "gopay": "GoPay payment"
        case "shopeepay": "ShopeePay payment"
        case "qris": "QRIS payment"
        case "akulaku": "Akulaku instalment plan"
        case "kredivo": "Kredivo instalment plan"
        default: "\(account.bank) account"
        }
    }

    static func state(of account: BankAPI.VirtualAccount) -> String {
        if account.returned { return "Paid, then given back (the payment had been cancelled or had expired)" }
        if account.paid { return "Paid" }
        if account.closed { return "Closed (cancelled or expired)" }
        return "Waiting for payment"
    }

    /// A typed or pasted number without its spaces (numbers are often shown in groups).
    static func cleaned(_ text: String?) -> String { (text ?? "").filter { !$0.isWhitespace } }

    /// 1 to 20 digits, as the bank numbers its accounts.
    static func isAccountNumber(_ text: String) -> Bool {
        (1...20).contains(text.utf8.count) && text.utf8.allSatisfy { (48...57).contains($0) }
    }
}
