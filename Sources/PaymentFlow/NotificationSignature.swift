import TLSWrapper

/// The `signature_key` of a Midtrans HTTP notification:
///
///     signature_key = lowercase hex( SHA-512( order_id + status_code + gross_amount + server_key ) )
///
/// — plain concatenation of the exact strings in the notification (`gross_amount` with two
/// decimals, `"10000.00"`). It proves the sender knows the server key; it carries no time, so it
/// does not stop a replay: the merchant also confirms with `GET /v2/{id}/status` and handles
/// each (order, status) once.
public enum NotificationSignature {
    public static func compute(orderID: String, statusCode: String, grossAmount: String, serverKey: String) -> String {
        Digest.sha512Hex(orderID + statusCode + grossAmount + serverKey)
    }

    /// Checks a received signature in constant time (no early exit an attacker could time).
    public static func isValid(
        _ signature: String, orderID: String, statusCode: String, grossAmount: String, serverKey: String
    ) -> Bool {
        let expected = Array(compute(orderID: orderID, statusCode: statusCode, grossAmount: grossAmount, serverKey: serverKey).utf8)
        let given = Array(signature.lowercased().utf8)
        guard given.count == expected.count else { return false }
        var difference: UInt8 = 0
        for (a, b) in zip(given, expected) { difference |= a ^ b }
        return difference == 0
    }
}
