// What a check run and a grading produce for a machine: JSON (Codable) and JUnit XML, the two
// formats course platforms and CI systems read.
import Foundation

/// One step's result.
struct StepReport: Codable, Equatable {
    var id: String
    var title: String
    var passed: Bool
    /// Why it failed, as the student sees it.
    var message: String?
}

/// Why a lab scores nothing whatever its checks say.
struct LabProblem: Codable, Equatable {
    enum Kind: String, Codable {
        /// The lab's file was not in the submission.
        case fileMissing = "file-missing"
        /// It does not compile (the starter stood in for it, so the others could be checked).
        case doesNotCompile = "does-not-compile"
        /// It calls NetLab's own implementation of the layer the lab is about.
        case callsNetLab = "calls-netlab-implementation"
        /// It calls what no lab needs (ends the process, reads the command line, writes files,
        /// loads code by name): flagged for the instructor to read; the points stand.
        case suspiciousCalls = "suspicious-calls"
    }

    var kind: Kind
    /// The compiler's errors, or the NetLab functions and types it calls.
    var detail: [String]
}

/// One lab's result.
struct LabReport: Codable, Equatable {
    var lab: Int
    var name: String
    var passed: Int
    var total: Int
    /// `passed`, or 0 when there is a problem.
    var points: Int
    var problem: LabProblem?
    var steps: [StepReport]
    /// Said before the steps (e.g. a step skipped on this machine).
    var notes: [String]
}

/// A grading: every lab of one submission.
struct GradeReport: Codable, Equatable {
    var student: String?
    /// When it was graded (ISO 8601, UTC).
    var graded: String
    var labs: [LabReport]
    var points: Int
    var total: Int
    /// Whether any lab has a problem an instructor should look at.
    var flagged: Bool

    init(student: String?, labs: [LabReport]) {
        self.student = student
        self.graded = ISO8601DateFormatter().string(from: Date())
        self.labs = labs
        self.points = labs.map(\.points).reduce(0, +)
        self.total = labs.map(\.total).reduce(0, +)
        self.flagged = labs.contains { $0.problem != nil && $0.problem?.kind != .fileMissing }
    }

    func json() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)) ?? Data()
    }

    /// JUnit XML: a test suite per lab, a test case per step; a lab's problem is one more
    /// failing case, "N.0", so a platform that only counts cases still sees it.
    func junit() -> String {
        var xml = #"<?xml version="1.0" encoding="UTF-8"?>"# + "\n"
        let failures = labs.map { lab in lab.steps.filter { !$0.passed }.count + (lab.problem == nil ? 0 : 1) }
        xml += #"<testsuites name="NetLab labs" tests="\#(total + labs.filter { $0.problem != nil }.count)" failures="\#(failures.reduce(0, +))">"# + "\n"
        for (lab, failed) in zip(labs, failures) {
            xml += #"  <testsuite name="\#(escape("Lab \(lab.lab) — \(lab.name)"))" tests="\#(lab.steps.count + (lab.problem == nil ? 0 : 1))" failures="\#(failed)">"# + "\n"
            if let student {
                xml += #"    <properties><property name="student" value="\#(escape(student))"/></properties>"# + "\n"
            }
            if let problem = lab.problem {
                xml += #"    <testcase classname="lab\#(lab.lab)" name="\#(lab.lab).0 \#(problem.kind.rawValue)">"#
                xml += #"<failure message="\#(escape(problem.kind.rawValue))">\#(escape(problem.detail.joined(separator: "\n")))</failure></testcase>"# + "\n"
            }
            for step in lab.steps {
                xml += #"    <testcase classname="lab\#(lab.lab)" name="\#(escape(step.id + " " + step.title))""#
                if step.passed {
                    xml += "/>\n"
                } else {
                    let message = step.message ?? ""
                    xml += #"><failure message="\#(escape(String(message.prefix { $0 != "\n" })))">\#(escape(message))</failure></testcase>"# + "\n"
                }
            }
            xml += "  </testsuite>\n"
        }
        return xml + "</testsuites>\n"
    }

    private func escape(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\n", "\t": out.unicodeScalars.append(scalar)
            // Control characters are not allowed in XML 1.0, even escaped.
            case _ where scalar.value < 0x20: out += "\\x" + String(format: "%02X", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
