// Fuzz target: the gateway's reading of a `POST /v2/charge` body — JSON (RFC 8259) into a
// checked ChargeRequest, every channel's object included.
//
// Invariants: no crash or hang on any bytes; every refusal is a typed GatewayError; a request
// the gateway accepts has a valid order id and an amount from 1 to the maximum.
import FuzzSupport
@testable import PaymentFlow

func fuzzChargeJSON(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let body = bytes(data, size)
    guard let charge = try? ChargeRequest(body: body) else { return 0 }
    Oracle.require(ChargeRequest.orderIDProblems(charge.orderID).isEmpty, "accepted order id \(charge.orderID)")
    Oracle.require(
        charge.grossAmount.amount >= 1 && charge.grossAmount <= ChargeRequest.maximumAmount,
        "accepted gross_amount \(charge.grossAmount)")
    return 0
}
