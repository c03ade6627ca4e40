/// The services of the payment system, by the names `netlab serve` uses.
public enum PaymentActor: String, CaseIterable, Sendable {
    case gateway, bank, merchant, fraud, notification

    /// Offset from `--port-base`: gateway N, bank N+1, merchant N+2, fraud N+3, notification N+4.
    public var portOffset: UInt16 {
        switch self {
        case .gateway: 0
        case .bank: 1
        case .merchant: 2
        case .fraud: 3
        case .notification: 4
        }
    }
}
