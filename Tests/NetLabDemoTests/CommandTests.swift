import Foundation
import NetLabTestSupport
import Testing

/// `netlab demo` as a student runs it: the built binary, its flags, and its keys on a terminal.
@Suite("netlab demo command", .timeLimit(.minutes(3)))
struct CommandTests {
    @Test("--list names every scenario; a wrong name is a clear error")
    func list() async throws {
        let (status, output) = try await Self.netlab(["demo", "--list"])
        #expect(status == 0)
        for name in ["card-accept", "card-deny", "fraud-challenge", "va-transfer", "expire", "refund", "merchant-down", "forged-webhook", "mitm", "gateway-restart"] {
            #expect(output.contains(name), "\(name) missing from --list:\n\(output)")
        }
        let (wrong, message) = try await Self.netlab(["demo", "--scenario", "card-acept"])
        #expect(wrong != 0 && message.contains("card-acept"), "\(message)")
    }

    @Test("piped: the whole story, no colour, lines kept whole, exit 0; --json is one object per line; --trace writes Mermaid; --keylog is 0600")
    func nonInteractive() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-demo-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let (status, text) = try await Self.netlab(["demo"])
        #expect(status == 0, "\(text)")
        #expect(text.contains("· TLS · customer → gateway") && text.contains("✔ card-accept"), "\(text.suffix(2000))")
        #expect(!text.contains("\u{1B}["), "no colour codes when piped")
        #expect(!text.contains("[Enter] next"), "no prompts when piped")
        #expect(text.contains("&card_exp_month=12&card_exp_year=2028 HTTP/1.1"), "piped, long lines are kept whole, not cut at the width")

        let trace = directory + "/trace.md", keylog = directory + "/keys.log"
        let (jsonStatus, json) = try await Self.netlab(["demo", "--json", "--scenario", "va-transfer", "--trace", trace, "--keylog", keylog])
        #expect(jsonStatus == 0)
        let lines = json.split(separator: "\n")
        for line in lines {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) is [String: Any], "not a JSON object: \(line.prefix(200))")
        }
        #expect(lines.last?.contains(#""succeeded":true"#) == true, "\(lines.last ?? "")")
        #expect(try String(contentsOfFile: trace, encoding: .utf8).contains("sequenceDiagram"))
        let mode = try FileManager.default.attributesOfItem(atPath: keylog)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try String(contentsOfFile: keylog, encoding: .utf8).contains("CLIENT_TRAFFIC_SECRET_0"))
    }

    @Test("netlab sockets: the system calls in order; step 10 shows the very bytes that hold the card number it calls visible, TLS hides them, an unverified client hands them over")
    func socketsWalkthrough() async throws {
        let (status, text) = try await Self.netlab(["sockets"])
        #expect(status == 0, "\(text)")
        let lines = text.split(separator: "\n").map(String.init)
        let step10 = lines.drop { !$0.hasPrefix("10. HTTP without TLS") }.prefix { !$0.hasPrefix("11. ") }
        #expect(step10.contains { $0.contains("the card number in the JSON body") }, "\(step10)")
        // The digits, across the hex dump's rows, as its ASCII column shows them.
        let ascii = step10.filter { $0.hasPrefix("    0") }.map { String($0.suffix(16)) }.joined()
        #expect(ascii.contains("4811111111111114"), "\(step10.joined(separator: "\n"))")
        #expect(step10.contains { $0.contains("the card number is VISIBLE on the wire") })
        #expect(text.contains("the card number is not visible on the wire") && text.contains("the impostor received the card number: YES"), "\(text.suffix(1500))")
    }

    @Test("on a terminal: Enter steps, w shows the wiretap below and above TLS, q quits (driven through a pseudo-terminal)")
    func interactive() async throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Interop/drive_demo_tty.py").path
        let (status, output) = try await TestProcess.run(["python3", script, try TestProcess.netlabBinary()])
        #expect(status == 0 && output.contains("PTY OK"), "\(output)")
    }

    static func netlab(_ arguments: [String]) async throws -> (Int32, String) {
        try await TestProcess.run([try TestProcess.netlabBinary()] + arguments)
    }
}
