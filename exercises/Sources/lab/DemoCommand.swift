// `lab demo`: the payment demo with the student's HTTP parser inside every actor.
import Foundation
import NetLabConformance
import NetLabDemo

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

func demo() async -> Int32 {
    let which = option("--http") ?? "student"
    guard ["student", "reference"].contains(which) else {
        print(say("--http must be student or reference, not \(which)", "--http harus student atau reference, bukan \(which)"))
        return 2
    }
    guard let scenario = DemoScenario(rawValue: option("--scenario") ?? "card-accept") else {
        print(say("unknown scenario; the scenarios are: ", "skenario tidak dikenal; skenarionya: ") + DemoScenario.allCases.map(\.rawValue).joined(separator: " "))
        return 2
    }
    // Your parser runs inside every actor here: a loop in it would hang the demo, so it has a limit.
    DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(120)) {
        print(say("the demo did not finish within 2 minutes — is a parser loop going round without consuming input?",
                  "demo tidak selesai dalam 2 menit — apakah ada loop parser yang berputar tanpa mengonsumsi masukan?"))
        _exit(1)
    }
    var options = DemoOptions(scenario: scenario)
    if which == "student" {
        let make = makeParser
        options.httpParser = { kind, limits in make(ParserConfiguration(kind: kind, limits: limits)) }
    }
    print(paint(say("The payment demo with \(which == "student" ? "your" : "NetLab's") HTTP parser in every server and client",
                    "Demo pembayaran dengan parser HTTP \(which == "student" ? "Anda" : "NetLab") di setiap server dan klien"), "1"))
    // Cut to the terminal's width; piped to a file or a pager, lines are kept whole.
    let style = DemoStyle(colour: colour, width: Int(ProcessInfo.processInfo.environment["COLUMNS"] ?? "") ?? 100,
                          cutsLines: isatty(STDOUT_FILENO) == 1)
    let recorder = DemoRecorder { step in print(DemoText.render(step, style: style)) }
    let result = await DemoRunner.run(options, recorder: recorder)
    print("\n" + (result.succeeded ? "✔ " : "✘ ") + result.summary)
    return result.succeeded ? 0 : 1
}
