/// The charge saga: the steps of one `POST /v2/charge`, as a value.
///
/// A charge talks to two other services before it has an outcome — fraud detection and the
/// bank — and either may fail to answer. The saga says, for each thing that happens, what the
/// gateway does next; ``ChargeFlow`` is the one driver that performs the actions (HTTP calls,
/// store writes) and feeds back what came of them. Nothing here touches the network or a disk,
/// so every path is a table in the tests.
///
///     reserved ─(begin card)─> assessingFraud ─(verdict deny)───────────> finished: record declined[deny]
///        │                          │  └─(verdict accept|challenge v)─> authorizing(v)
///        │                          └─(no answer)─> finished: record abandon
///        │       authorizing(v) ─(approved)──────────────> finished: record authorized[v]
///        │             │  ├─(denied)────────────────────> finished: record declined[accept]
///        │             │  ├─(authentication required)───> awaitingAuthentication(v): record awaitAuthentication
///        │             └─(no answer: in doubt)──────────> finished: record abandon (reversal owed)
///        │       awaitingAuthentication(v) ─(OTP submitted)─> verifyingAuthentication(v): verify at the bank
///        │       verifyingAuthentication(v) ─(approved)─> finished: record authorized[v]
///        │             │  ├─(denied)─> finished: record declined[accept]
///        │             └─(no answer: in doubt)─> finished: record abandon (reversal owed)
///        └─(begin waiting)─> openingAccount ─(opened)─> finished: record awaitPayment
///                                  └─(no answer: in doubt)─> finished: record abandon (reversal owed)
///
///     any step ─(the record was refused: the merchant cancelled, or a timer expired it, meanwhile)
///              ─> finished: reverse at the bank (the bank may have acted for a charge nobody keeps)
///
/// The step a charge is in is stored with its transaction — `reserved` when it is reserved, the
/// 3-D Secure steps when the charge waits for a person or checks the OTP, `finished` with its
/// outcome — so a restarted gateway knows which charges were cut off mid-call
/// (``isInDoubtAfterCrash``) and which wait for a person. (The steps between, fraud and bank,
/// are not written: `reserved` already says "calls may be under way", and every write costs.)
public enum ChargeSaga: Hashable, Sendable {
    /// Reserved: the order id is taken, nobody asked yet.
    case reserved
    /// Fraud detection is deciding (cards).
    case assessingFraud
    /// The bank is deciding on the card; the fraud verdict waits for the outcome.
    case authorizing(fraud: FraudStatus)
    /// The card holder must enter an OTP (the charge is announced as pending).
    case awaitingAuthentication(fraud: FraudStatus)
    /// The OTP went to the bank; its answer is awaited.
    case verifyingAuthentication(fraud: FraudStatus)
    /// The bank is opening the account the customer will pay into.
    case openingAccount
    /// Nothing more for the saga to do; the transaction's own state machine goes on.
    case finished

    public enum Event: Hashable, Sendable {
        case begin(isCard: Bool)
        case fraudVerdict(FraudStatus)
        /// The bank's decision on the card or on the OTP.
        case bankAnswered(BankAPI.AuthorizationResult)
        case accountOpened
        case otpSubmitted
        /// A call got no usable answer: the outcome is in doubt.
        case noAnswer
        /// Recording the outcome was refused: the transaction moved on meanwhile.
        case outcomeRefused
    }

    public enum Action: Hashable, Sendable {
        case assessFraud
        case authorizeCard
        case openAccount
        case verifyOTP
        /// Apply this event to the transaction (refused unless the move is still in the graph).
        case record(TransactionState.Event)
        /// Undo at the bank whatever it did for this charge.
        case reverse
        /// The event makes no sense in this step (a second OTP, an OTP for a card that needs
        /// none): nothing changes.
        case refuse
    }

    /// Moves to the next step and returns what to do.
    public mutating func handle(_ event: Event) -> Action {
        switch (self, event) {
        case (_, .outcomeRefused):
            // The saga has just finished with an outcome the transaction no longer accepts.
            self = .finished
            return .reverse
        case (.reserved, .begin(isCard: true)):
            self = .assessingFraud
            return .assessFraud
        case (.reserved, .begin(isCard: false)):
            self = .openingAccount
            return .openAccount
        case (.assessingFraud, .fraudVerdict(.deny)):
            self = .finished
            return .record(.declined(fraud: .deny))
        case (.assessingFraud, .fraudVerdict(let verdict)):
            self = .authorizing(fraud: verdict)
            return .authorizeCard
        case (.authorizing(let verdict), .bankAnswered(.approved)), (.verifyingAuthentication(let verdict), .bankAnswered(.approved)):
            self = .finished
            return .record(.authorized(fraud: verdict))
        case (.authorizing, .bankAnswered(.denied)), (.verifyingAuthentication, .bankAnswered(.denied)):
            self = .finished
            return .record(.declined(fraud: .accept))
        case (.authorizing(let verdict), .bankAnswered(.authenticationRequired)):
            self = .awaitingAuthentication(fraud: verdict)
            return .record(.awaitAuthentication)
        case (.awaitingAuthentication(let verdict), .otpSubmitted):
            self = .verifyingAuthentication(fraud: verdict)
            return .verifyOTP
        case (.openingAccount, .accountOpened):
            self = .finished
            return .record(.awaitPayment)
        case (.assessingFraud, .noAnswer), (.authorizing, .noAnswer), (.verifyingAuthentication, .noAnswer), (.openingAccount, .noAnswer),
            // A second "authentication required" after an OTP is no answer the saga can use.
            (.verifyingAuthentication, .bankAnswered(.authenticationRequired)):
            self = .finished
            return .record(.abandon)
        default:
            return .refuse
        }
    }

    /// A step with a call in flight: if the process running it died, nobody will finish it, and
    /// the bank may have acted — the charge is in doubt and recovery abandons and reverses it.
    /// (`awaitingAuthentication` is not: it waits for a person, and expires by time.)
    public var isInDoubtAfterCrash: Bool {
        switch self {
        case .reserved, .assessingFraud, .authorizing, .verifyingAuthentication, .openingAccount: true
        case .awaitingAuthentication, .finished: false
        }
    }

    /// The step's name as stored (`charge_step`) and the verdict it holds (`pending_fraud_status`).
    public var stored: (step: String, fraud: FraudStatus?) {
        switch self {
        case .reserved: ("reserved", nil)
        case .assessingFraud: ("assessing_fraud", nil)
        case .authorizing(let verdict): ("authorizing", verdict)
        case .awaitingAuthentication(let verdict): ("awaiting_authentication", verdict)
        case .verifyingAuthentication(let verdict): ("verifying_authentication", verdict)
        case .openingAccount: ("opening_account", nil)
        case .finished: ("finished", nil)
        }
    }

    /// The step from its stored form; nil for a name this version does not know.
    public init?(step: String, fraud: FraudStatus?) {
        switch (step, fraud) {
        case ("reserved", _): self = .reserved
        case ("assessing_fraud", _): self = .assessingFraud
        case ("authorizing", let verdict?): self = .authorizing(fraud: verdict)
        case ("awaiting_authentication", let verdict?): self = .awaitingAuthentication(fraud: verdict)
        case ("verifying_authentication", let verdict?): self = .verifyingAuthentication(fraud: verdict)
        case ("opening_account", _): self = .openingAccount
        case ("finished", _): self = .finished
        default: return nil
        }
    }
}
