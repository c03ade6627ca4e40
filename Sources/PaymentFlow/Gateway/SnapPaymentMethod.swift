import Foundation

/// A way to pay that Snap's page offers, named as `enabled_payments` names it.
///
/// Snap names methods by what the customer sees (`bca_va`, `indomaret`, `other_qris`), the Core
/// API by payment type and option (`bank_transfer` + `bank: bca`, `cstore` + `store:
/// indomaret`, `qris`). This type is the map between the two. `enabled_payments` also takes
/// the aliases `bank_transfer` (every VA) and `cstore` (both stores); names of methods NetLab
/// does not have (OVO, DANA, the retired internet-banking ones) are accepted and left out, as
/// Snap leaves out methods a merchant has not activated.
enum SnapPaymentMethod: String, Sendable, CaseIterable, Codable {
    case creditCard = "credit_card"
    case bcaVA = "bca_va", bniVA = "bni_va", briVA = "bri_va", permataVA = "permata_va", cimbVA = "cimb_va"
    case echannel
    case gopay, shopeepay
    case otherQRIS = "other_qris"
    case indomaret, alfamart
    case akulaku, kredivo

    /// What the page lists.
    var title: String {
        switch self {
        case .creditCard: "Credit or debit card"
        case .bcaVA: "BCA virtual account"
        case .bniVA: "BNI virtual account"
        case .briVA: "BRI virtual account"
        case .permataVA: "Permata virtual account"
        case .cimbVA: "CIMB Niaga virtual account"
        case .echannel: "Mandiri bill payment"
        case .gopay: "GoPay"
        case .shopeepay: "ShopeePay"
        case .otherQRIS: "QRIS (any e-wallet)"
        case .indomaret: "Indomaret"
        case .alfamart: "Alfamart"
        case .akulaku: "Akulaku PayLater"
        case .kredivo: "Kredivo"
        }
    }

    /// `enabled_payments` resolved (every method when absent), in the order given.
    static func resolve(_ value: Any?, problems: inout [String]) -> [SnapPaymentMethod] {
        guard let value else { return allCases }
        guard let names = value as? [String], !names.isEmpty else {
            problems.append("enabled_payments must be a non-empty list of payment method names")
            return []
        }
        var methods: [SnapPaymentMethod] = []
        for name in names {
            let expanded: [SnapPaymentMethod] = switch name {
            case "bank_transfer", "other_va": [.bcaVA, .bniVA, .briVA, .permataVA, .cimbVA]
            case "cstore": [.indomaret, .alfamart]
            default: SnapPaymentMethod(rawValue: name).map { [$0] } ?? []
            }
            for method in expanded where !methods.contains(method) { methods.append(method) }
        }
        if methods.isEmpty { problems.append("enabled_payments names no payment method NetLab offers") }
        return methods
    }

    /// The method a Core-API-shaped choice (`payment_type` with its object) stands for.
    static func chosen(_ body: [String: Any]) -> SnapPaymentMethod? {
        switch body["payment_type"] as? String {
        case "credit_card": .creditCard
        case "bank_transfer": ((body["bank_transfer"] as? [String: Any])?["bank"] as? String).flatMap { SnapPaymentMethod(rawValue: "\($0)_va") }
        case "echannel": .echannel
        case "gopay": .gopay
        case "shopeepay": .shopeepay
        case "qris": .otherQRIS
        case "cstore": ((body["cstore"] as? [String: Any])?["store"] as? String).flatMap { SnapPaymentMethod(rawValue: $0) }
        case "akulaku": .akulaku
        case "kredivo": .kredivo
        default: nil
        }
    }
}
