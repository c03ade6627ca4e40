import Foundation
import HTTPParser
import NetLab

/// JSON text (RFC 8259) for the payment services' answers, requests and webhooks: objects with
/// their member names in byte order (answers are stable, diffable and easy to test), arrays,
/// strings, integers, finite doubles, booleans and null.
///
/// Why not `JSONSerialization` with `.sortedKeys`: the benchmark found it at a fifth of a card
/// charge's CPU time, most of it sorting names with locale-aware string comparison. A value this
/// writer does not know (an `NSNumber` from parsed JSON, say) goes to `JSONSerialization`, so
/// nothing is ever dropped.
enum JSONText {
    /// `object` as an `application/json` answer with this HTTP status.
    static func response(_ object: [String: Any], status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, fields: HTTPFields(["Content-Type": "application/json"]), body: .bytes((try? encode(object)) ?? Array("{}".utf8)))
    }

    /// `value` as JSON text in a string (what a transaction's structured extras keep).
    static func text(_ value: Any) -> String {
        String(decoding: (try? encode(value)) ?? Array("null".utf8), as: UTF8.self)
    }

    static func encode(_ value: Any) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(768)
        if write(value, into: &out) { return out }
        return Array(try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]))
    }

    /// Appends `value`; false if it holds something this writer does not handle.
    private static func write(_ value: Any, into out: inout [UInt8]) -> Bool {
        switch value {
        case let text as String:
            string(text, into: &out)
        case let object as [String: Any]:
            out.append(UInt8(ascii: "{"))
            for (index, name) in object.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                string(name, into: &out)
                out.append(UInt8(ascii: ":"))
                guard write(object[name]!, into: &out) else { return false }
            }
            out.append(UInt8(ascii: "}"))
        case let array as [Any]:
            out.append(UInt8(ascii: "["))
            for (index, element) in array.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                guard write(element, into: &out) else { return false }
            }
            out.append(UInt8(ascii: "]"))
        case let flag as Bool where type(of: value) == Bool.self:
            out.append(contentsOf: (flag ? "true" : "false").utf8)
        case let number as Int where type(of: value) == Int.self:
            out.append(contentsOf: String(number).utf8)
        case let number as Int64 where type(of: value) == Int64.self:
            out.append(contentsOf: String(number).utf8)
        case let number as Double where type(of: value) == Double.self && number.isFinite:
            out.append(contentsOf: String(number).utf8)
        case is NSNull:
            out.append(contentsOf: "null".utf8)
        default:
            return false
        }
        return true
    }

    /// A string with `"`, `\` and control characters escaped (RFC 8259 §7); everything else as UTF-8.
    private static func string(_ text: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 15)]])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
