import Foundation
import NetLab
import PaymentFlow

/// A class list of merchants as CSV (RFC 4180): what `netlab gateway merchant import` reads and
/// `export` writes. Columns, named by the header: merchant_id (required), server_key,
/// client_key, notification_url, finish_url, allow_private_webhooks.
enum MerchantSheet {
    static let columns = ["merchant_id", "server_key", "client_key", "notification_url", "finish_url", "allow_private_webhooks"]

    /// One merchant as written: blank fields are nil. A column the sheet does not have leaves
    /// an existing merchant's value as it is (`columns` says which it has).
    struct Row: Equatable {
        var merchantID: String
        var serverKey: String?
        var clientKey: String?
        var notificationURL: String?
        var finishURL: String?
        var allowsPrivateWebhooks: Bool
        /// The line it came from (0: not from a file).
        var line = 0
        /// The sheet's columns (nil: every field is given, as by `merchant add`).
        var columns: Set<String>? = nil

        /// The account to store: keys from the row, else from `existing` (a re-import does not
        /// change a merchant's keys), else new random ones. Checked: an id or key with a NUL, a
        /// space or a colon (which would end the Basic user name) could never be used, and a URL
        /// must be http(s).
        func account(keeping existing: MerchantAccount?) throws(SheetError) -> MerchantAccount {
            func given(_ column: String) -> Bool { columns?.contains(column) ?? true }
            let account = MerchantAccount(
                merchantID: merchantID, serverKey: serverKey ?? existing?.serverKey ?? Self.randomKey("SB-Mid-server-"),
                clientKey: clientKey ?? existing?.clientKey ?? Self.randomKey("SB-Mid-client-"),
                notificationURL: given("notification_url") ? notificationURL : existing?.notificationURL,
                finishURL: given("finish_url") ? finishURL : existing?.finishURL,
                allowsPrivateWebhooks: given("allow_private_webhooks") ? allowsPrivateWebhooks : existing?.allowsPrivateWebhooks ?? false)
            for (name, value) in [("merchant id", account.merchantID), ("server key", account.serverKey), ("client key", account.clientKey)] {
                guard !value.isEmpty, value.utf8.count <= 64, value.utf8.allSatisfy({ (0x21...0x7E).contains($0) && $0 != UInt8(ascii: ":") }) else {
                    throw .invalidField(line: line, column: name, rule: "1 to 64 visible ASCII characters without ':'")
                }
            }
            for (name, value) in [("notification URL", notificationURL), ("finish URL", finishURL)] {
                if let url = value, (try? HTTPURL(url)) == nil { throw .invalidField(line: line, column: name, rule: "an http:// or https:// URL") }
            }
            return account
        }

        /// 20 characters from a cryptographic source (the system's generator).
        static func randomKey(_ prefix: String) -> String {
            let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
            var generator = SystemRandomNumberGenerator()
            return prefix + String((0..<20).map { _ in alphabet.randomElement(using: &generator)! })
        }
    }

    /// Why a sheet cannot be read; each case names the line.
    enum SheetError: Error, Equatable, CustomStringConvertible {
        case empty
        case missingColumn(String)
        case unknownColumn(String)
        case unterminatedQuote(line: Int)
        case wrongFieldCount(line: Int, expected: Int, got: Int)
        case invalidField(line: Int, column: String, rule: String)
        case duplicateMerchant(line: Int, merchantID: String)
        case duplicateKey(merchantID: String, column: String, other: String)
        case semicolons

        var description: String {
            switch self {
            case .empty: "no header line (the first line names the columns: \(MerchantSheet.columns.joined(separator: ",")))"
            case .missingColumn(let name): "the header has no \(name) column"
            case .unknownColumn(let name): "unknown column \"\(name)\" (the columns are \(MerchantSheet.columns.joined(separator: ", ")))"
            case .unterminatedQuote(let line): "line \(line): a quoted field is not closed"
            case .wrongFieldCount(let line, let expected, let got): "line \(line): \(got) fields, the header has \(expected)"
            case .invalidField(let line, let column, let rule): (line > 0 ? "line \(line): " : "") + "the \(column) must be \(rule)"
            case .duplicateMerchant(let line, let id): "line \(line): \(id) is listed twice"
            case .duplicateKey(let id, let column, let other): "\(id)'s \(column) is \(other)'s too: keys must be unique"
            case .semicolons: "the columns are separated by ';' (a spreadsheet set to another locale): export it with commas"
            }
        }
    }

    /// The rows of a sheet; the first line is the header.
    static func rows(_ text: String) throws(SheetError) -> [Row] {
        // A spreadsheet's "CSV UTF-8" starts with a byte-order mark.
        let records = try records(text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text)
        guard var header = records.first?.fields.map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }), header != [""] else { throw .empty }
        if header.count == 1, header[0].contains(";") { throw .semicolons }
        // Empty cells after the last column (a trailing comma) name nothing.
        while header.count > 1, header.last == "" { header.removeLast() }
        for name in header where !columns.contains(name) { throw .unknownColumn(name) }
        guard header.contains("merchant_id") else { throw .missingColumn("merchant_id") }
        var rows: [Row] = []
        var seen: Set<String> = []
        for record in records.dropFirst() where record.fields != [""] {
            var fields = record.fields
            while fields.count > header.count, fields.last?.trimmingCharacters(in: .whitespaces) == "" { fields.removeLast() }
            guard fields.count == header.count else {
                throw .wrongFieldCount(line: record.line, expected: header.count, got: fields.count)
            }
            var values: [String: String] = [:]
            for (name, value) in zip(header, fields) {
                let trimmed = value.trimmingCharacters(in: .whitespaces)
                if !trimmed.isEmpty { values[name] = trimmed }
            }
            let id = values["merchant_id"] ?? ""
            guard seen.insert(id).inserted else { throw .duplicateMerchant(line: record.line, merchantID: id) }
            let allow: Bool
            switch values["allow_private_webhooks"]?.lowercased() {
            case nil, "false", "no", "0": allow = false
            case "true", "yes", "1": allow = true
            default: throw .invalidField(line: record.line, column: "allow_private_webhooks", rule: "true or false")
            }
            rows.append(Row(merchantID: id, serverKey: values["server_key"], clientKey: values["client_key"],
                            notificationURL: values["notification_url"], finishURL: values["finish_url"],
                            allowsPrivateWebhooks: allow, line: record.line, columns: Set(header)))
        }
        return rows
    }

    /// The accounts the sheet makes of `existing` merchants, all checked — fields, and keys
    /// unique among the sheet and every other merchant — before any is saved.
    static func accounts(_ text: String, existing: [MerchantAccount]) throws(SheetError) -> [MerchantAccount] {
        let byID = Dictionary(existing.map { ($0.merchantID, $0) }, uniquingKeysWith: { first, _ in first })
        var accounts: [MerchantAccount] = []
        for row in try rows(text) { accounts.append(try row.account(keeping: byID[row.merchantID])) }
        let changed = Set(accounts.map(\.merchantID))
        let everyone = existing.filter { !changed.contains($0.merchantID) } + accounts  // the sheet's row is the one named
        for (column, key) in [("server key", \MerchantAccount.serverKey), ("client key", \MerchantAccount.clientKey)] {
            var owner: [String: String] = [:]
            for account in everyone {
                if let other = owner.updateValue(account.merchantID, forKey: account[keyPath: key]), other != account.merchantID {
                    throw .duplicateKey(merchantID: account.merchantID, column: column, other: other)
                }
            }
        }
        return accounts
    }

    /// RFC 4180 records: fields split at commas, a quoted field may hold commas, line breaks and
    /// doubled quotes; CRLF or LF ends a record. Each with the line it starts on.
    static func records(_ text: String) throws(SheetError) -> [(line: Int, fields: [String])] {
        var records: [(line: Int, fields: [String])] = []
        var fields: [String] = []
        var field = ""
        var quoted = false, wasQuoted = false
        var line = 1, start = 1
        var characters = Array(text.replacingOccurrences(of: "\r\n", with: "\n"))[...]
        while let character = characters.popFirst() {
            if quoted {
                if character == "\"" {
                    if characters.first == "\"" { characters.removeFirst(); field.append("\"") } else { quoted = false }
                } else {
                    if character == "\n" { line += 1 }
                    field.append(character)
                }
                continue
            }
            switch character {
            case "\"" where field.isEmpty && !wasQuoted: quoted = true; wasQuoted = true
            case ",": fields.append(field); field = ""; wasQuoted = false
            case "\n":
                fields.append(field)
                records.append((start, fields))
                fields = []; field = ""; wasQuoted = false
                line += 1; start = line
            default: field.append(character)
            }
        }
        if quoted { throw .unterminatedQuote(line: start) }
        if !field.isEmpty || !fields.isEmpty { fields.append(field); records.append((start, fields)) }
        return records
    }

    /// Every merchant as a sheet; server keys only `withServerKeys` (they are secrets).
    static func csv(_ merchants: [MerchantAccount], withServerKeys: Bool) -> String {
        func field(_ value: String?) -> String {
            guard let value else { return "" }
            return value.contains(where: { ",\"\n\r".contains($0) }) ? "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : value
        }
        var text = columns.joined(separator: ",") + "\r\n"
        for merchant in merchants.sorted(by: { $0.merchantID < $1.merchantID }) {
            text += [merchant.merchantID, withServerKeys ? merchant.serverKey : nil, merchant.clientKey, merchant.notificationURL,
                     merchant.finishURL, merchant.allowsPrivateWebhooks ? "true" : "false"].map(field).joined(separator: ",") + "\r\n"
        }
        return text
    }
}
