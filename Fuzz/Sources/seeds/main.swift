// `seeds OUTPUT [LLHTTP_CASES]`: writes each fuzz target's seed corpus under OUTPUT/TARGET/:
// the parser vector table (NetLabConformance), llhttp's cases (a JSON-lines file, when given),
// the HTTP traffic of the demo's card-accept and va-transfer stories (played in plaintext),
// and, for the TLS targets, the first flights of a real handshake.
import Foundation
import HTTPParser
import NetLabConformance
import NetLabDemo
import PaymentFlow
import TLSWrapper
import FuzzSupport

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    FileHandle.standardError.write(Data("usage: seeds OUTPUT [LLHTTP_CASES_JSONL]\n".utf8))
    exit(2)
}
let output = URL(fileURLWithPath: arguments[1])
var written: [String: Int] = [:]

@MainActor func write(_ target: String, _ bytes: [UInt8]) {
    let folder = output.appendingPathComponent(target)
    try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    // Named by content, as libFuzzer names its own finds: the same seed is written once.
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
    let file = folder.appendingPathComponent("seed-" + String(hash, radix: 16))
    if !FileManager.default.fileExists(atPath: file.path) {
        _ = FileManager.default.createFile(atPath: file.path, contents: Data(bytes))
        written[target, default: 0] += 1
    }
}

func bodyAfterHead(_ bytes: [UInt8]) -> [UInt8]? {
    let crlf2: [UInt8] = [13, 10, 13, 10]
    guard bytes.count >= 4 else { return nil }
    for index in 0...(bytes.count - 4) where Array(bytes[index..<index + 4]) == crlf2 {
        return Array(bytes[(index + 4)...])
    }
    return nil
}

@MainActor func request(_ bytes: [UInt8]) {
    for target in ["request", "roundtrip", "differential"] { write(target, bytes) }
    let text = String(decoding: bytes, as: UTF8.self).lowercased()
    if text.contains("chunked"), let body = bodyAfterHead(bytes) { write("chunked", body) }
    if let line = text.split(separator: "\r\n").first?.split(separator: " "), line.count >= 2 {
        write("url-form", Array(line[1].utf8) + [10] + (bodyAfterHead(bytes) ?? []))
    }
}

@MainActor func response(_ bytes: [UInt8], methodSelector: UInt8 = 0) {
    write("response", [methodSelector] + bytes)
}

// 1. The specification table.
for vector in HTTPParserVectors.all {
    switch vector.configuration.kind {
    case .requests: request(vector.input)
    case .responses:
        let head = vector.requestMethods.first == .head ? UInt8(1 << 2) : 0
        response(vector.input, methodSelector: head | (vector.endOfStream ? 0x80 : 0))
    }
}

// 2. llhttp's cases.
if arguments.count >= 3, let text = try? String(contentsOfFile: arguments[2], encoding: .utf8) {
    for line in text.split(separator: "\n") {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any],
            let encoded = object["input_b64"] as? String, let input = Data(base64Encoded: encoded)
        else { continue }
        switch object["kind"] as? String {
        case "request": request(Array(input))
        case "response": response(Array(input), methodSelector: 0x80)
        default: break
        }
    }
}

// 3. The demo's traffic, as its wiretap recorded it (plaintext, so the HTTP is readable).
for scenario in [DemoScenario.cardAccept, .vaTransfer] {
    let recorder = DemoRecorder()
    let result = await DemoRunner.run(DemoOptions(scenario: scenario, plaintext: true), recorder: recorder)
    if !result.succeeded { FileHandle.standardError.write(Data("demo \(scenario.rawValue): \(result.summary)\n".utf8)) }
    for step in recorder.steps {
        guard let plaintext = step.wire?.plaintext else { continue }
        let bytes = Array(plaintext)
        if bytes.starts(with: Array("HTTP/".utf8)) {
            response(bytes)
        } else {
            request(bytes)
            guard let body = bodyAfterHead(bytes), !body.isEmpty else { continue }
            let text = String(decoding: bytes.prefix(80), as: UTF8.self)
            if text.hasPrefix("POST /v2/charge") { write("charge-json", body) }
            if body.contains(Array("signature_key".utf8)) { write("webhook", body) }
        }
    }
}

// 4. TLS: a ClientHello (for the server target) and a server's first flight (for the client).
do {
    let client = try TLSEngine(context: TLSFixtures.client, serverName: "localhost")
    let server = try TLSEngine(context: TLSFixtures.server)
    _ = try client.handshake()
    let hello = client.takeForNetwork()
    write("tls-server", hello)
    server.receiveFromNetwork(hello)
    _ = try server.handshake()
    write("tls-client", server.takeForNetwork())
} catch {
    FileHandle.standardError.write(Data("TLS seeds: \(error)\n".utf8))
}

for (target, count) in written.sorted(by: { $0.key < $1.key }) { print("\(target): \(count) seeds") }
