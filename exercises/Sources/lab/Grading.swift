// `lab grade [PATH]`: grades a submission — the five lab files in PATH, nothing else from it —
// in a clean copy of this kit, so a student's edits to the checks, the runner or NetLab count
// for nothing. Each lab file that does not compile is replaced by its starter (the others are
// still graded), each lab that calls NetLab's own implementation of its layer scores 0 and is
// flagged, and the checks run as `lab check 5` runs them. Out: a table, JSON or JUnit XML.
import Foundation
import NetLabConformance

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// This kit's folder (the runner's sources are in Sources/lab/ under it).
let kitRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// NetLab's package: inside the kit in a student's copy, beside it in NetLab's repository.
func netlabRoot(of kit: URL) throws -> URL {
    for candidate in [kit.appendingPathComponent("NetLab"), kit.deletingLastPathComponent()] {
        let manifest = candidate.appendingPathComponent("Package.swift").path
        if let text = try? String(contentsOfFile: manifest, encoding: .utf8), text.contains(#"name: "NetLab""#) {
            return candidate.resolvingSymlinksInPath()
        }
    }
    throw KitError.layout("NetLab's package is neither in \(kit.path)/NetLab nor beside \(kit.path)")
}

struct Grader {
    let kit: URL
    let submission: URL
    let jobs: String?
    /// The clean copy, kept between gradings so each build after the first is incremental.
    var tree: URL { kit.appendingPathComponent(".build/grading/kit") }

    func run() throws -> GradeReport {
        let fileManager = FileManager.default
        // One grading at a time per kit: two would share the clean tree.
        try fileManager.createDirectory(at: tree.deletingLastPathComponent(), withIntermediateDirectories: true)
        let lock = open(tree.deletingLastPathComponent().appendingPathComponent("lock").path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lock >= 0, flock(lock, LOCK_EX) == 0 else { throw KitError.layout("cannot lock the grading tree") }
        defer { close(lock) }
        try prepareTree()
        var problems: [Int: LabProblem] = [:]
        for lab in KitLab.all {
            // A regular file only, its bytes copied: a directory would bring more sources, a
            // link could point into the instructor's NetLab or anywhere on this machine.
            let submitted = [submission.appendingPathComponent(lab.path), submission.appendingPathComponent(lab.file)]
                .first { Self.isRegularFile($0.path) }
            guard let submitted, let bytes = fileManager.contents(atPath: submitted.path) else {
                problems[lab.number] = LabProblem(kind: .fileMissing, detail: ["\(lab.path) " + say("is not in", "tidak ada di") + " \(submission.path)"])
                continue
            }
            let destination = tree.appendingPathComponent(lab.path)
            try? fileManager.removeItem(at: destination)
            guard fileManager.createFile(atPath: destination.path, contents: bytes) else { throw KitError.layout("cannot write \(destination.path)") }
        }
        try build(recording: &problems)
        let bin = try binPath()
        for lab in KitLab.all where problems[lab.number] == nil {
            // The lab file's own object only (the tree is kept between gradings: another
            // submission's leftovers must not count).
            let object = bin + "/\(lab.target).build/\(lab.file).o"
            guard fileManager.fileExists(atPath: object) else { throw KitError.layout("no object file \(object) after the build") }
            let calls = try forbiddenCalls(of: lab, objectFiles: [object])
            if !calls.isEmpty {
                problems[lab.number] = LabProblem(kind: .callsNetLab, detail: calls)
            } else {
                let suspicious = try suspiciousCalls(objectFiles: [object])
                if !suspicious.isEmpty { problems[lab.number] = LabProblem(kind: .suspiciousCalls, detail: suspicious) }
            }
        }
        return GradeReport(student: option("--student"), labs: try checks().map { merge($0, problems[$0.lab]) })
    }

    /// The kit's own files (not its lab files' contents: those come from the submission or are
    /// the kit's starters), with NetLab linked in.
    func prepareTree() throws {
        let fileManager = FileManager.default
        try fileManager.createDirectory(at: tree, withIntermediateDirectories: true)
        for item in try fileManager.contentsOfDirectory(atPath: tree.path) where item != ".build" && item != "Package.resolved" {
            try fileManager.removeItem(at: tree.appendingPathComponent(item))
        }
        for item in try fileManager.contentsOfDirectory(atPath: kit.path)
        where item == "Package.swift" || item == "Sources" || item.hasPrefix("lab") {
            try fileManager.copyItem(at: kit.appendingPathComponent(item), to: tree.appendingPathComponent(item))
        }
        try fileManager.createSymbolicLink(at: tree.appendingPathComponent("NetLab"), withDestinationURL: try netlabRoot(of: kit))
        // The kit's pinned versions, if it has them: the tree resolves nothing new (works offline).
        let resolved = kit.appendingPathComponent("Package.resolved")
        if fileManager.fileExists(atPath: resolved.path), !fileManager.fileExists(atPath: tree.appendingPathComponent("Package.resolved").path) {
            try fileManager.copyItem(at: resolved, to: tree.appendingPathComponent("Package.resolved"))
        }
    }

    /// A regular file, not a link to one and not a directory.
    static func isRegularFile(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFREG
    }

    func replace(_ destination: URL, with source: URL) throws {
        try? FileManager.default.removeItem(at: destination)
        try FileManager.default.copyItem(at: source, to: destination)
    }

    /// Builds the runner; a lab file the compiler refuses is recorded and its starter put back,
    /// until the rest builds.
    func build(recording problems: inout [Int: LabProblem]) throws {
        for _ in 0...KitLab.all.count {
            FileHandle.standardError.write(Data(say("building the submission…\n", "membangun kiriman…\n").utf8))
            var command = ["swift", "build", "--package-path", tree.path, "--product", "lab"]
            if let jobs { command += ["--jobs", jobs] }
            let (status, output) = try runTool(command)
            if status == 0 { return }
            let errors = output.split(separator: "\n").filter { $0.contains(": error: ") }.map(String.init)
            var refused = Set<Int>()
            for lab in KitLab.all where problems[lab.number] == nil {
                let mine = errors.filter { $0.contains("/\(lab.path):") || ($0.contains("/Sources/lab/") && $0.contains(lab.type)) }
                guard !mine.isEmpty else { continue }
                refused.insert(lab.number)
                let relative = mine.map { line in line.range(of: "/\(lab.folder)/").map { String(line[line.index(after: $0.lowerBound)...]) } ?? line }
                problems[lab.number] = LabProblem(kind: .doesNotCompile, detail: Array(Set(relative)).sorted().prefix(20).map { $0 })
                try replace(tree.appendingPathComponent(lab.path), with: kit.appendingPathComponent(lab.path))
            }
            if refused.isEmpty {
                // An error no file names as a lab's (a seam's signature changed, a type that
                // clashes, the linker): put the starters back one lab at a time until it builds.
                guard let culprit = try firstLabBreaking(problems, command: command) else {
                    throw KitError.tool(command.joined(separator: " "), output)
                }
                problems[culprit.number] = LabProblem(kind: .doesNotCompile, detail: Array(errors.prefix(20)))
                try replace(tree.appendingPathComponent(culprit.path), with: kit.appendingPathComponent(culprit.path))
            }
        }
        throw KitError.layout("the kit's starters do not build")
    }

    /// The first lab whose starter, put in place of its file, lets the build succeed (the file is
    /// put back otherwise).
    func firstLabBreaking(_ problems: [Int: LabProblem], command: [String]) throws -> KitLab? {
        for lab in KitLab.all where problems[lab.number] == nil {
            let file = tree.appendingPathComponent(lab.path)
            let theirs = FileManager.default.contents(atPath: file.path)
            try replace(file, with: kit.appendingPathComponent(lab.path))
            if try runTool(command).0 == 0 { return lab }
            if let theirs { _ = FileManager.default.createFile(atPath: file.path, contents: theirs) }
        }
        return nil
    }

    func binPath() throws -> String {
        var command = ["swift", "build", "--package-path", tree.path, "--show-bin-path"]
        if let jobs { command += ["--jobs", jobs] }
        let (status, output) = try runTool(command)
        guard status == 0, let path = output.split(separator: "\n").last else { throw KitError.tool(command.joined(separator: " "), output) }
        return String(path)
    }

    /// `lab check 5` in the clean tree; its progress goes to standard error.
    func checks() throws -> [LabReport] {
        let report = tree.appendingPathComponent(".build/grading-report.json").path
        try? FileManager.default.removeItem(atPath: report)
        let runner = try binPath() + "/lab"
        _ = try runTool(["env", "NO_COLOR=1", runner, "check", "5", "--report", report, "--lang", language.rawValue], echo: true)
        guard let data = FileManager.default.contents(atPath: report) else { throw KitError.layout("the checks wrote no report (\(report))") }
        return try JSONDecoder().decode([LabReport].self, from: data)
    }

    /// A lab's checks with its problem: no points; a lab that was not its student's code (missing,
    /// or the starter standing in) has its steps marked as not passed.
    func merge(_ lab: LabReport, _ problem: LabProblem?) -> LabReport {
        guard let problem else { return lab }
        var lab = lab
        lab.problem = problem
        // Suspicious calls are for the instructor to look at: the points stand until they do.
        if problem.kind != .suspiciousCalls { lab.points = 0 }
        if problem.kind == .fileMissing || problem.kind == .doesNotCompile {
            let why = problem.kind == .fileMissing ? say("not submitted", "tidak dikirim") : say("does not compile", "tidak bisa dikompilasi")
            lab.steps = lab.steps.map { StepReport(id: $0.id, title: $0.title, passed: false, message: why) }
            lab.passed = 0
        }
        return lab
    }
}

func grade() -> Int32 {
    guard !(flag("--json") && flag("--junit")) else { fail("--json or --junit, not both", "--json atau --junit, jangan keduanya") }
    let submission = URL(fileURLWithPath: positional().first ?? kitRoot.path).standardizedFileURL
    guard FileManager.default.fileExists(atPath: submission.path) else { fail("no such folder: \(submission.path)", "folder tidak ada: \(submission.path)") }
    let report: GradeReport
    do {
        report = try Grader(kit: kitRoot, submission: submission, jobs: option("--jobs")).run()
    } catch {
        fail("grading stopped: \(error)", "penilaian berhenti: \(error)")
    }
    let output: Data
    if flag("--json") {
        output = report.json()
    } else if flag("--junit") {
        output = Data(report.junit().utf8)
    } else {
        var text = say("Grade", "Nilai") + (report.student.map { " — \($0)" } ?? "") + "\n"
        for lab in report.labs {
            text += "  \(lab.lab)  \(lab.name.padding(toLength: 66, withPad: " ", startingAt: 0))  \(lab.points)/\(lab.total)"
            if let problem = lab.problem { text += "  ⚑ \(problem.kind.rawValue)\n" + problem.detail.map { "       \($0)" }.joined(separator: "\n") }
            text += "\n"
        }
        output = Data((text + say("total", "total") + " \(report.points)/\(report.total)\n").utf8)
    }
    if let file = option("--out") {
        guard FileManager.default.createFile(atPath: file, contents: output) else { fail("could not write \(file)", "tidak bisa menulis \(file)") }
    } else {
        FileHandle.standardOutput.write(output)
    }
    return report.points == report.total && !report.flagged ? 0 : 1
}
