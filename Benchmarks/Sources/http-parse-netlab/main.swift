// NetLab's HTTPMessageParser as a peer of the http-parse-peers harness: parses each input
// file (N pipelined requests) fed as one buffer, RUNS times, and prints one JSON line per
// input with the median time: {"peer","input","bytes","requests","runs","median_s","mb_s","req_s"}.
//
// usage: http-parse-netlab DATA_DIR [RUNS]
import Foundation
import HTTPParser

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    FileHandle.standardError.write(Data("usage: http-parse-netlab DATA_DIR [RUNS]\n".utf8))
    exit(2)
}
let dataDirectory = URL(fileURLWithPath: arguments[1])
let runs = arguments.count > 2 ? Int(arguments[2]) ?? 5 : 5

struct Entry: Decodable { let requests: Int }
let manifest = try JSONDecoder().decode(
    [String: Entry].self, from: Data(contentsOf: dataDirectory.appendingPathComponent("manifest.json")))

/// One run: a fresh parser, the whole file in one `receive`, every event pulled.
func parseOnce(_ input: [UInt8]) throws -> (seconds: Double, messages: Int) {
    let start = ContinuousClock.now
    var parser = HTTPMessageParser(parsing: .requests, limits: {
        var limits = HTTPLimits()
        limits.maxBodySize = Int.max
        return limits
    }())
    parser.receive(input)
    var messages = 0
    while let event = try parser.nextEvent() {
        if case .endOfMessage = event { messages += 1 }
    }
    let elapsed = ContinuousClock.now - start
    let (s, atto) = elapsed.components
    return (Double(s) + Double(atto) / 1e18, messages)
}

for name in ["get", "post_cl", "post_chunked"] {
    let input = [UInt8](try Data(contentsOf: dataDirectory.appendingPathComponent("\(name).bin")))
    var times: [Double] = []
    for _ in 0..<runs {
        let (seconds, messages) = try parseOnce(input)
        let expected = manifest[name]?.requests ?? -1
        guard messages == expected else {
            FileHandle.standardError.write(Data("\(name): parsed \(messages) of \(expected) requests\n".utf8))
            exit(1)
        }
        times.append(seconds)
    }
    times.sort()
    let median = times[times.count / 2]
    let line: [String: Any] = [
        "peer": "netlab", "input": name, "bytes": input.count, "requests": manifest[name]?.requests ?? 0, "runs": runs,
        "median_s": median, "mb_s": Double(input.count) / median / 1e6, "req_s": Double(manifest[name]?.requests ?? 0) / median,
    ]
    let json = try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys])
    print(String(decoding: json, as: UTF8.self))
}
