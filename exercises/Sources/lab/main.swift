// `lab`: runs the labs' checks against your code, one step per process (a crash in your code is
// reported with where it happened, never the end of the run), prints a progress table, plays
// the payment demo with your layer plugged in, and serves your lab 3 server. For instructors it
// exports a student's copy of the kit and grades submissions in a clean copy. All checks live
// in NetLab's NetLabConformance library: the same code NetLab's own implementation passes in
// its tests.
import Foundation
import NetLabConformance

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

guard let command = arguments.first else { usage() }
// Line by line, even into a pipe or a file: what a step printed survives its crash, and a
// server's log (`lab serve`) shows each line as it happens. (The C global `stdout` is looked up
// by name: Swift 6 refuses a direct reference to a mutable C global.)
#if os(Linux)
let stdoutSymbol = "stdout"
#else
let stdoutSymbol = "__stdoutp"
#endif
if let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, stdoutSymbol) {
    setvbuf(symbol.load(as: UnsafeMutablePointer<FILE>.self), nil, _IOLBF, 0)
}
guard LabLanguage(rawValue: requestedLanguage) != nil else {
    print("--lang must be en or id (bahasa: en atau id), not \(requestedLanguage)")
    exit(2)
}
switch command {
case "check":
    guard arguments.count >= 2, let last = Int(arguments[1]), (1...5).contains(last) else { usage() }
    if let only = option("--step") {
        let known = suites().filter { $0.number <= last }.map(\.suite).flatMap(\.steps).map(\.id)
        guard known.contains(only) else {
            print(say("no step \(only) in labs 1…\(last); the steps are: \(known.joined(separator: " "))",
                      "tidak ada langkah \(only) di lab 1…\(last); langkahnya: \(known.joined(separator: " "))"))
            exit(2)
        }
    }
    exit(check(upTo: last, only: option("--step"), reportFile: option("--report")))
case "step":
    guard arguments.count >= 2 else { usage() }
    exit(await runStep(arguments[1]))
case "demo":
    exit(await demo())
case "serve":
    exit(await serve())
case "export":
    guard let destination = positional().first else { usage() }
    exit(export(to: destination))
case "grade":
    exit(grade())
case "list":
    for (number, name, suite) in suites() {
        print("\(number)  \(name(language))  (\(suite.steps.count) " + say("steps)", "langkah)"))
    }
default:
    usage()
}
