/// The text inside a QRIS code: EMVCo's merchant-presented QR payload — fields of a two-digit
/// ID, a two-digit length and the value, some holding fields of their own (the merchant
/// account under 26), the last a CRC-16 over everything before it (63). A wallet reads the
/// merchant account and the amount from it, and refuses a code whose CRC does not match.
public enum EMVPayload {
    /// The payload for a payment of `amount` into the bank's `account`, as `acquirer` processes it.
    public static func merchantPresented(account: String, amount: Rupiah, acquirer: String) -> String {
        func field(_ id: String, _ value: String) -> String { id + String(format: "%02d", value.utf8.count) + value }
        var payload = field("00", "01") + field("01", "12")
            + field("26", field("00", "ID.CO.QRIS.WWW") + field("01", account) + field("02", acquirer.uppercased()))
            + field("52", "5999") + field("53", "360") + field("54", "\(amount.amount)") + field("58", "ID")
            + field("59", "NETLAB MERCHANT") + field("60", "JAKARTA") + "6304"
        payload += String(format: "%04X", crc16(Array(payload.utf8)))
        return payload
    }

    /// The fields of one level of a payload (`fields(payload)["26"]` holds the merchant
    /// account's own fields). Stops at the first field that does not fit.
    public static func fields(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        var rest = Substring(text)
        while rest.count >= 4, rest.dropFirst(2).prefix(2).allSatisfy({ $0.isASCII && $0.isNumber }),
            let length = Int(rest.dropFirst(2).prefix(2)), rest.count >= 4 + length {
            result[String(rest.prefix(2))] = String(rest.dropFirst(4).prefix(length))
            rest = rest.dropFirst(4 + length)
        }
        return result
    }

    /// Whether the payload's last field is the CRC-16 of everything before its value.
    public static func checksumMatches(_ text: String) -> Bool {
        guard text.count > 4 else { return false }
        return String(format: "%04X", crc16(Array(text.dropLast(4).utf8))) == String(text.suffix(4))
    }

    /// CRC-16/CCITT-FALSE (polynomial 0x1021, start 0xFFFF), as EMVCo's field 63 asks.
    static func crc16(_ bytes: [UInt8]) -> UInt16 {
        var crc: UInt16 = 0xFFFF
        for byte in bytes {
            crc ^= UInt16(byte) << 8
            for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        }
        return crc
    }
}
