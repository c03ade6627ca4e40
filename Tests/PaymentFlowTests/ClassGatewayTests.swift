import Foundation
import HTTPParser
import NetLab
import NetLabTestSupport
import TCPSocket
import TLSWrapper
import Testing

@testable import PaymentFlow

extension WholeSystems {
/// One gateway for a class: the names students reach it by in its URLs and its certificate, a
/// class list of merchants imported and handed out with their keys, and the instructor's view
/// of every merchant's transactions and webhooks.
@Suite("A class gateway", .serialized, .timeLimit(.minutes(3)))
struct ClassGatewayTests {
    @Test("listening everywhere, the services call each other on loopback and give out the public name")
    func hostsForAClass() {
        var options = PaymentSystemOptions(stateDirectory: "/unused")
        #expect(!options.listensEverywhere && options.internalHost == "127.0.0.1" && options.advertisedHost == "127.0.0.1")
        options.host = "0.0.0.0"
        options.publicHost = "lab-gw"
        #expect(options.listensEverywhere && options.internalHost == "127.0.0.1" && options.advertisedHost == "lab-gw")
        options.host = "::"
        options.publicHost = nil
        #expect(options.internalHost == "::1" && options.advertisedHost == ProcessInfo.processInfo.hostName)
        #expect(PaymentSystem.urlHost("::1") == "[::1]" && PaymentSystem.urlHost("lab-gw") == "lab-gw")
        // What a certificate for every address of this machine names: loopback at least, no link-local.
        let addresses = PaymentSystem.interfaceAddresses()
        #expect(addresses.contains("127.0.0.1") && !addresses.contains { $0.lowercased().hasPrefix("fe80:") }, "\(addresses)")
    }

    @Test("--public-host and --san: the URLs name the public host, the certificate every name, and a card payment goes through")
    func publicNames() async throws {
        let system = try await EndToEndTests.start {
            $0.publicHost = "localhost"
            $0.certificateNames = ["netlab-class.test", "10.0.0.5"]
        }
        #expect(system.urls.values.allSatisfy { $0.hasPrefix("https://localhost:") }, "\(system.urls)")
        let certificate = try LabCertificateAuthority.summary(ofCertificateAt: system.options.stateDirectory + "/ca/services.pem")
        for name in ["DNS:localhost", "DNS:netlab-class.test", "IP:10.0.0.5", "IP:127.0.0.1"] {
            #expect(certificate.subjectAlternativeNames.contains(name), "\(certificate.subjectAlternativeNames)")
        }
        let order = try await system.customer().payByCard("kopi", card: .init(number: "4811111111111114"))
        #expect(order.transaction_status == "capture")
        // What a browser is given names the public host, never the services' loopback address.
        let gatewayPort = try #require(system.urls[.gateway]?.split(separator: ":").last)
        let storefront = try await system.client.get(try #require(system.urls[.merchant]) + "/").text
        #expect(storefront.contains("https://localhost:\(gatewayPort)/snap/snap.js") && !storefront.contains("127.0.0.1"), "\(storefront.prefix(1500))")
        #expect(system.gateway?.configuration.publicBankURL?.hasPrefix("https://localhost:") == true)
        await EndToEndTests.stop(system)
    }

    @Test("a certificate is issued again when a name is new, and kept when it names everything asked for")
    func certificateFollowsNames() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-ca-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let ca = try LabCertificateAuthority(directory: directory)
        let first = try ca.issue(name: "services")
        let before = try String(contentsOfFile: first.certificatePath, encoding: .utf8)
        _ = try ca.issue(name: "services", extraNames: ["localhost", "::1"])
        #expect(try String(contentsOfFile: first.certificatePath, encoding: .utf8) == before, "nothing new: kept")
        _ = try ca.issue(name: "services", extraNames: ["localhost", "lab-gw", "0:0:0:0:0:0:0:1"])
        let after = try LabCertificateAuthority.summary(ofCertificateAt: first.certificatePath)
        #expect(after.subjectAlternativeNames.contains("DNS:lab-gw"), "\(after.subjectAlternativeNames)")
    }

    /// `GET path` on the gateway with `password` (nil: no Authorization).
    static func instructor(_ system: PaymentSystem, _ path: String, password: String?) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(method: .get, url: try HTTPURL(try #require(system.urls[.gateway]) + path))
        if let password { try request.fields.append(name: "Authorization", value: "Basic " + Data("teacher:\(password)".utf8).base64EncodedString()) }
        return try await system.client.execute(request)
    }

    @Test("the instructor's view: refused without the key (401, Basic) and with a wrong one; with it, every merchant's transactions and webhooks, no server key")
    func instructorView() async throws {
        let system = try await EndToEndTests.start()
        let keyFile = system.options.stateDirectory + "/instructor.key"
        let mode = try FileManager.default.attributesOfItem(atPath: keyFile)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let key = try String(contentsOfFile: keyFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let order = try await system.customer().payByCard("kopi", card: .init(number: "4811111111111114"))
        try await EndToEndTests.eventually("the capture webhook delivered") {
            try system.store!.notifications(merchantID: system.options.merchantID, orderID: order.order_id).contains { $0.deliveredAt != nil && $0.transactionStatus == "capture" }
        }

        for path in ["/instructor", "/v1/instructor/merchants"] {
            let anonymous = try await Self.instructor(system, path, password: nil)
            #expect(anonymous.status == 401 && anonymous.fields["WWW-Authenticate"]?.hasPrefix("Basic realm=") == true, "\(path)")
            #expect(try await Self.instructor(system, path, password: key + "x").status == 401, "\(path)")
            #expect(try await Self.instructor(system, path, password: system.options.serverKey).status == 401, "a merchant's key is not the instructor's")
        }
        let page = try await Self.instructor(system, "/instructor", password: key)
        #expect(page.status == 200 && page.fields["Content-Security-Policy"]?.contains("script-src 'self'") == true)
        #expect(page.text.contains("/assets/instructor.js"))

        let answer = try await Self.instructor(system, "/v1/instructor/merchants", password: key)
        #expect(answer.status == 200)
        #expect(!answer.text.contains(system.options.serverKey), "no server key in the view")
        let overview = try #require(try JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any])
        let merchants = try #require(overview["merchants"] as? [[String: Any]])
        let lab = try #require(merchants.first { $0["merchant_id"] as? String == system.options.merchantID })
        let transactions = try #require(lab["transactions"] as? [[String: Any]])
        #expect(transactions.first?["order_id"] as? String == order.order_id && transactions.first?["transaction_status"] as? String == "capture")
        let webhooks = try #require(lab["webhooks"] as? [String: Any])
        #expect((webhooks["delivered"] as? Int ?? 0) >= 2 && webhooks["given_up"] as? Int == 0 && webhooks["last_result"] as? String == "200", "\(webhooks)")
        await EndToEndTests.stop(system)
    }

    @Test("a class list: imported (every row checked first), exported with keys 0600, re-imported without changing a key")
    func merchantSheet() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-class-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let netlab = try TestProcess.netlabBinary()
        let sheet = directory + "/students.csv"
        try """
            merchant_id,notification_url,allow_private_webhooks,finish_url\r
            G-2023-0042,http://pc-07:9445/notifications,true,\r
            G-2023-0043,http://pc-08:9445/notifications,yes,"https://shop.test/done?a=1,2"\r

            """.write(toFile: sheet, atomically: true, encoding: .utf8)
        let (imported, importOutput) = try await TestProcess.run([netlab, "gateway", "merchant", "import", sheet, "--state", directory])
        #expect(imported == 0 && importOutput.contains("2 merchants from") && importOutput.contains("2 added"), "\(importOutput)")

        let keys = directory + "/keys.csv"
        let (exported, exportOutput) = try await TestProcess.run([netlab, "gateway", "merchant", "export", "--with-keys", "--out", keys, "--state", directory])
        #expect(exported == 0, "\(exportOutput)")
        #expect(try FileManager.default.attributesOfItem(atPath: keys)[.posixPermissions] as? Int == 0o600)
        let first = try String(contentsOfFile: keys, encoding: .utf8)
        let rows = first.split(separator: "\r\n")
        #expect(rows.count == 3 && rows[0] == "merchant_id,server_key,client_key,notification_url,finish_url,allow_private_webhooks", "\(first)")
        #expect(rows.contains { $0.hasPrefix("G-2023-0043,SB-Mid-server-") && $0.hasSuffix(#","https://shop.test/done?a=1,2",true"#) }, "\(first)")
        // Without --with-keys, no server key at all.
        let (_, plain) = try await TestProcess.run([netlab, "gateway", "merchant", "export", "--state", directory])
        #expect(!plain.contains("SB-Mid-server-"), "\(plain)")

        // The roster again: updated, keys kept.
        let (_, again) = try await TestProcess.run([netlab, "gateway", "merchant", "import", sheet, "--state", directory])
        #expect(again.contains("0 added, 2 updated"), "\(again)")
        _ = try await TestProcess.run([netlab, "gateway", "merchant", "export", "--with-keys", "--out", keys, "--state", directory])
        #expect(try String(contentsOfFile: keys, encoding: .utf8) == first)

        // A roster without the URL columns (a spreadsheet's CSV UTF-8, with its byte-order mark)
        // keeps each merchant's webhook URL and permission.
        try "\u{FEFF}merchant_id,client_key\nG-2023-0042,\n".write(toFile: sheet, atomically: true, encoding: .utf8)
        let (_, partial) = try await TestProcess.run([netlab, "gateway", "merchant", "import", sheet, "--state", directory])
        #expect(partial.contains("0 added, 1 updated"), "\(partial)")
        let (_, kept) = try await TestProcess.run([netlab, "gateway", "merchant", "export", "--state", directory])
        #expect(kept.contains("G-2023-0042,,") && kept.contains("http://pc-07:9445/notifications,,true"), "\(kept)")
        // A key another merchant has: refused before anything is saved; so is a sheet of semicolons.
        let taken = try #require(rows.first { $0.hasPrefix("G-2023-0043,") }?.split(separator: ",")[2])
        try "merchant_id,client_key\nG-2023-0050,\nG-2023-0051,\(taken)\n".write(toFile: sheet, atomically: true, encoding: .utf8)
        let (clash, clashWhy) = try await TestProcess.run([netlab, "gateway", "merchant", "import", sheet, "--state", directory])
        #expect(clash != 0 && clashWhy.contains("G-2023-0051's client key is G-2023-0043's too"), "\(clashWhy)")
        try "merchant_id;notification_url\nG-2023-0052;http://pc/n\n".write(toFile: sheet, atomically: true, encoding: .utf8)
        let (_, semicolons) = try await TestProcess.run([netlab, "gateway", "merchant", "import", sheet, "--state", directory])
        #expect(semicolons.contains("separated by ';'"), "\(semicolons)")

        // A bad row: named, and nothing of the file saved.
        try "merchant_id,notification_url\nG-2023-0044,http://pc-09/n\nG-2023-0045,ftp://pc-10/n\n".write(toFile: sheet, atomically: true, encoding: .utf8)
        let (refused, why) = try await TestProcess.run([netlab, "gateway", "merchant", "import", sheet, "--state", directory])
        #expect(refused != 0 && why.contains("line 3") && why.contains("notification URL"), "\(why)")
        let (_, list) = try await TestProcess.run([netlab, "gateway", "merchant", "list", "--state", directory])
        #expect(!list.contains("G-2023-0044") && !list.contains("G-2023-0050"), "\(list)")
    }
}
}
