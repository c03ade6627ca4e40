// The runner's command line: its options, the student's language, and colour when a terminal
// shows it.
import Foundation
import NetLabConformance

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

let arguments = Array(CommandLine.arguments.dropFirst())

/// `--name VALUE` or `--name=VALUE`.
func option(_ name: String) -> String? {
    if let index = arguments.firstIndex(of: name), index + 1 < arguments.count { return arguments[index + 1] }
    if let inline = arguments.first(where: { $0.hasPrefix(name + "=") }) { return String(inline.dropFirst(name.count + 1)) }
    return nil
}

func flag(_ name: String) -> Bool { arguments.contains(name) }

/// The arguments that are neither options nor their values, after the command.
func positional() -> [String] {
    var result: [String] = []
    var skip = false
    for argument in arguments.dropFirst() {
        if skip { skip = false; continue }
        if argument.hasPrefix("--") {
            skip = !argument.contains("=") && valued.contains(argument)
            continue
        }
        result.append(argument)
    }
    return result
}

/// The options that take a value.
let valued: Set = ["--lang", "--step", "--report", "--student", "--out", "--jobs", "--port", "--host", "--http", "--scenario",
                   "--gateway", "--server-key", "--cacert"]

let requestedLanguage = option("--lang") ?? ProcessInfo.processInfo.environment["NETLAB_LANG"] ?? "en"
let language = LabLanguage(rawValue: requestedLanguage) ?? .en
let colour = isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
func paint(_ text: String, _ code: String) -> String { colour ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text }
func say(_ en: String, _ id: String) -> String { language == .id ? id : en }

func usage() -> Never {
    print(say("""
        usage: swift run lab check N [--lang en|id] [--step N.M]   run the checks of labs 1…N
               swift run lab demo [--http=student|reference] [--scenario NAME]
               swift run lab serve 3 [--port N] [--host ADDR] [--reference]   your lab 3 server, for curl or wrk
               swift run lab serve 5 --gateway URL --server-key KEY [--cacert FILE] [--port N]
                                             your lab 5 handler as a merchant's webhook endpoint at a class gateway
               swift run lab list
        for instructors:
               swift run lab export DIR      a student's copy of the kit, without NetLab's answers
               swift run lab grade [PATH] [--json|--junit] [--student ID] [--out FILE]
                                             grade the five lab files in PATH in a clean copy of this kit
        """, """
        pemakaian: swift run lab check N [--lang en|id] [--step N.M]   jalankan pemeriksaan lab 1…N
                   swift run lab demo [--http=student|reference] [--scenario NAMA]
                   swift run lab serve 3 [--port N] [--host ALAMAT] [--reference]   server lab 3 Anda, untuk curl atau wrk
                   swift run lab serve 5 --gateway URL --server-key KEY [--cacert BERKAS] [--port N]
                                                 handler lab 5 Anda sebagai endpoint webhook merchant di gateway kelas
                   swift run lab list
        untuk pengajar:
                   swift run lab export DIR      salinan kit untuk mahasiswa, tanpa jawaban NetLab
                   swift run lab grade [PATH] [--json|--junit] [--student ID] [--out FILE]
                                                 menilai lima berkas lab di PATH dalam salinan bersih kit ini
        """))
    exit(2)
}

/// Stops with a message and exit status 2 (a usage or setup problem, not a failed check).
func fail(_ en: String, _ id: String) -> Never {
    FileHandle.standardError.write(Data((say(en, id) + "\n").utf8))
    exit(2)
}
