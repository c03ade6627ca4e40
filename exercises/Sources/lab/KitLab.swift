// The five labs as files: where each lives in the kit, the module it builds, and what in NetLab
// it must not call — NetLab's own implementation of the very thing the lab asks for.
import Foundation
import NetLabConformance

struct KitLab: Sendable {
    /// A NetLab function or type the lab's code must not call, as a pattern over demangled
    /// symbol names, and what it is.
    struct Forbidden: Sendable {
        let pattern: String
        let what: LabText
    }

    let number: Int
    let folder: String
    let file: String
    /// The SwiftPM target the file is compiled into.
    let target: String
    /// The type the runner plugs in (a compiler error naming it belongs to this lab).
    let type: String
    let forbidden: [Forbidden]

    var path: String { folder + "/" + file }

    /// NetLab's answers, out of bounds for every lab (only in NetLab's repository).
    static let answers = Forbidden(pattern: #"\bLabReferences\."#, what: LabText(en: "NetLab's answers to the labs (LabReferences)", id: "jawaban NetLab untuk lab (LabReferences)"))

    static let all: [KitLab] = [
        KitLab(number: 1, folder: "lab1-sockets", file: "Echo.swift", target: "Lab1Sockets", type: "StudentEcho", forbidden: [answers]),
        KitLab(number: 2, folder: "lab2-http-parsing", file: "Parser.swift", target: "Lab2HTTPParsing", type: "StudentParser", forbidden: [
            answers,
            // HTTPMessageParser.Kind is how the lab's configuration says "requests" or "responses".
            Forbidden(pattern: #"\bHTTPParser\.HTTPMessageParser\b(?!\.Kind\b)"#, what: LabText(en: "HTTPMessageParser, NetLab's own HTTP parser", id: "HTTPMessageParser, parser HTTP milik NetLab sendiri")),
            Forbidden(pattern: #"\bHTTPParser\.AnyHTTPMessageParser\b"#, what: LabText(en: "AnyHTTPMessageParser, a wrapper around another parser", id: "AnyHTTPMessageParser, pembungkus parser lain")),
        ]),
        KitLab(number: 3, folder: "lab3-http-server", file: "Server.swift", target: "Lab3HTTPServer", type: "StudentServer", forbidden: [
            answers,
            Forbidden(pattern: #"\bNetLab\.HTTPServer\b"#, what: LabText(en: "HTTPServer, NetLab's own HTTP server", id: "HTTPServer, server HTTP milik NetLab sendiri")),
        ]),
        KitLab(number: 4, folder: "lab4-tls", file: "TLSClient.swift", target: "Lab4TLS", type: "StudentTLSClient", forbidden: [
            answers,
            Forbidden(pattern: #"\bTLSWrapper\.TLSStream\b"#, what: LabText(en: "TLSStream, NetLab's own TLS stream", id: "TLSStream, stream TLS milik NetLab sendiri")),
        ]),
        KitLab(number: 5, folder: "lab5-webhooks", file: "Webhook.swift", target: "Lab5Webhooks", type: "StudentWebhook", forbidden: [
            answers,
            Forbidden(pattern: #"\bPaymentFlow\.ReferenceWebhookHandler\b"#, what: LabText(en: "ReferenceWebhookHandler, the NetLab shop's own notification endpoint", id: "ReferenceWebhookHandler, endpoint notifikasi milik toko NetLab sendiri")),
        ]),
    ]
}

/// The NetLab functions and types a lab's compiled code calls that it must not: read from the
/// object files' undefined symbols (`nm -u`), demangled (`swift demangle`). The compiled code is
/// what runs, so comments, strings and unused imports never count, and no rename of a local
/// variable hides a call.
func forbiddenCalls(of lab: KitLab, objectFiles: [String]) throws -> [String] {
    guard !objectFiles.isEmpty else { return [] }
    let (status, listing) = try runTool(["nm", "-u"] + objectFiles)
    guard status == 0 else { throw KitError.tool("nm -u", listing) }
    // GNU nm: "                 U $s10HTTPParser…"; macOS: "_$s10HTTPParser…" (or "U …").
    let symbols = Set(listing.split(separator: "\n").compactMap { $0.split(separator: " ").last.map(String.init) }
        .filter { $0.contains("$s") || $0.hasPrefix("_$s") })
    guard !symbols.isEmpty else { return [] }
    let (demangleStatus, demangled) = try runTool(["swift", "demangle"], input: symbols.sorted().joined(separator: "\n"))
    guard demangleStatus == 0 else { throw KitError.tool("swift demangle", demangled) }
    var found: [String] = []
    for rule in lab.forbidden {
        let regex = try NSRegularExpression(pattern: rule.pattern)
        let hits = demangled.split(separator: "\n").filter { line in
            regex.firstMatch(in: String(line), range: NSRange(line.startIndex..., in: line)) != nil
        }
        guard !hits.isEmpty else { continue }
        let calls = Set(hits.map { line -> String in
            // "$s… ---> HTTPParser.HTTPMessageParser.nextEvent() throws…": the name after the arrow.
            let name = line.range(of: " ---> ").map { String(line[$0.upperBound...]) } ?? String(line)
            return name.count > 140 ? String(name.prefix(140)) + "…" : name
        }).sorted()
        found.append("\(rule.what(language)): " + calls.prefix(5).joined(separator: "; ")
                     + (calls.count > 5 ? say(" (and \(calls.count - 5) more)", " (dan \(calls.count - 5) lagi)") : ""))
    }
    return found
}

/// What no lab needs and a lab that games its checks would: ending the process (a step's
/// verdict is then whatever it wrote), reading the command line or the environment, writing
/// files, starting programs, loading code by name. Read from the same symbols; flagged for the
/// instructor, whose reading decides.
let suspicious: [(pattern: String, what: String)] = [
    (#"^(exit|_exit|_Exit|Exit|abort|kill|raise)$"#, "ends or signals the process"),
    (#"^(dlopen|dlsym|dladdr)$"#, "loads code by name"),
    (#"^(open|open64|openat|creat|fopen|fopen64|unlink|rename)$"#, "opens or changes files"),
    (#"\bSwift\.CommandLine\b|\bProcessInfo\.(arguments|environment)\b|^getenv$"#, "reads the command line or the environment"),
    (#"\bFoundation\.FileManager\b|\bFoundation\.FileHandle\b"#, "uses the file system"),
    (#"\bFoundation\.Process\b|^(fork|execv|execve|execvp|posix_spawn|system)$"#, "starts programs"),
    // (Not swift_getTypeByMangledName…: compiled generic code calls it by itself.)
    (#"\bSwift\._typeByName\b"#, "looks types up by name"),
]

/// The suspicious calls of a lab's object files (see ``suspicious``).
func suspiciousCalls(objectFiles: [String]) throws -> [String] {
    let (status, listing) = try runTool(["nm", "-u"] + objectFiles)
    guard status == 0 else { throw KitError.tool("nm -u", listing) }
    let symbols = listing.split(separator: "\n").compactMap { $0.split(separator: " ").last.map(String.init) }
        .map { $0.hasPrefix("_") && !$0.hasPrefix("_$s") && !$0.hasPrefix("__") ? String($0.dropFirst()) : $0 }  // macOS: _exit is exit
    let (demangleStatus, demangled) = try runTool(["swift", "demangle"], input: symbols.joined(separator: "\n"))
    guard demangleStatus == 0 else { throw KitError.tool("swift demangle", demangled) }
    let names = demangled.split(separator: "\n").map { line in line.range(of: " ---> ").map { String(line[$0.upperBound...]) } ?? String(line) }
    var found: [String] = []
    for rule in suspicious {
        let regex = try NSRegularExpression(pattern: rule.pattern)
        let hits = Set(names.filter { regex.firstMatch(in: $0, range: NSRange($0.startIndex..., in: $0)) != nil }.map { $0.count > 100 ? String($0.prefix(100)) + "…" : $0 })
        if !hits.isEmpty { found.append("\(rule.what): " + hits.sorted().prefix(4).joined(separator: "; ")) }
    }
    return found
}

/// A problem with the kit or its tools, not with a student's code.
enum KitError: Error, CustomStringConvertible {
    case tool(String, String)
    case layout(String)

    var description: String {
        switch self {
        case .tool(let command, let output): "`\(command)` failed:\n\(output.suffix(3000))"
        case .layout(let why): why
        }
    }
}

/// Runs a command (looked up in PATH) to its end; its status and everything it printed.
func runTool(_ command: [String], input: String? = nil, directory: String? = nil, echo: Bool = false) throws -> (Int32, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = command
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    let stdin = Pipe()
    process.standardInput = input == nil ? FileHandle.nullDevice : stdin
    let collected = OutputCollector(limit: 8 << 20)
    output.fileHandleForReading.readabilityHandler = { handle in
        let data = handle.availableData
        collected.append(data)
        if echo { FileHandle.standardError.write(data) }
    }
    try process.run()
    if let input {
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try? stdin.fileHandleForWriting.close()
    }
    process.waitUntilExit()
    output.fileHandleForReading.readabilityHandler = nil
    let rest = output.fileHandleForReading.readDataToEndOfFile()
    collected.append(rest)
    if echo { FileHandle.standardError.write(rest) }
    return (process.terminationStatus, collected.text)
}
