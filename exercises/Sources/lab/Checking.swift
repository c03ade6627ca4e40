// `lab check N`: every step of labs 1…N, each in its own process, as a list a student reads and
// a progress table; `--report FILE` also writes the results as JSON (what `lab grade` reads).
import Foundation
import NetLabConformance

func check(upTo last: Int, only: String?, reportFile: String?) -> Int32 {
    var table: [(Int, String, String)] = []
    var reports: [LabReport] = []
    var allPassed = true
    print(paint(say("NetLab labs — checking \(mode == "student" ? "your code" : "NetLab's reference") (labs 1…\(last))",
                    "Lab NetLab — memeriksa \(mode == "student" ? "kode Anda" : "implementasi acuan NetLab") (lab 1…\(last))"), "1"))
    for (number, name, suite) in suites() where number <= last {
        // `--step N.M`: only the lab that has it.
        if let only, !suite.steps.contains(where: { $0.id == only }) { continue }
        print("\n" + paint("Lab \(number) — \(name(language))", "1"))
        var notes = only == nil ? suite.notes.map { $0(language) } : []
        // Grading takes the lab's one file: code in another file of the folder would be missing there.
        if let lab = KitLab.all.first(where: { $0.number == number }),
           let others = try? FileManager.default.contentsOfDirectory(atPath: kitRoot.appendingPathComponent(lab.folder).path)
            .filter({ $0.hasSuffix(".swift") && $0 != lab.file }), !others.isEmpty {
            notes.append(say("note: grading takes \(lab.file) alone — move what is in \(others.joined(separator: ", ")) into it",
                             "catatan: penilaian hanya mengambil \(lab.file) — pindahkan isi \(others.joined(separator: ", ")) ke dalamnya"))
        }
        for note in notes { print("   " + note) }
        var steps: [StepReport] = []
        for step in suite.steps where only == nil || step.id == only {
            let verdict = runChild(step)
            let title = step.title(language)
            switch verdict {
            case .passed:
                print(paint("✔", "32") + " \(step.id)  \(title)")
                steps.append(StepReport(id: step.id, title: title, passed: true))
            case .failed(let message):
                allPassed = false
                print(paint("✘", "31") + " \(step.id)  \(title)")
                for line in message.split(separator: "\n", omittingEmptySubsequences: false) { print("       \(line)") }
                steps.append(StepReport(id: step.id, title: title, passed: false, message: message))
            }
        }
        let passed = steps.filter(\.passed).count
        table.append((number, name(language), "\(passed)/\(steps.count)" + (passed == steps.count ? " ✔" : "")))
        reports.append(LabReport(lab: number, name: name(language), passed: passed, total: steps.count, points: passed,
                                 problem: nil, steps: steps, notes: notes))
    }
    print("\n" + paint(say("Progress", "Kemajuan"), "1"))
    for (number, name, progress) in table {
        print("  \(number)  \(name.padding(toLength: 66, withPad: " ", startingAt: 0))  \(progress)")
    }
    if let reportFile {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let data = try? encoder.encode(reports), FileManager.default.createFile(atPath: reportFile, contents: data) else {
            fail("could not write the report to \(reportFile)", "laporan tidak bisa ditulis ke \(reportFile)")
        }
    }
    return allPassed ? 0 : 1
}
