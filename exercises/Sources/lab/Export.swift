// `lab export DIR`: a student's copy of the kit — the starters, the handouts, the checks and
// the runner, with NetLab inside it (NetLab/) but without NetLab's answers to the labs
// (LabReferences) and without its own tests. The copy builds and runs on its own.
import Foundation

func export(to destination: String) -> Int32 {
    let fileManager = FileManager.default
    let target = URL(fileURLWithPath: destination).standardizedFileURL
    if let existing = try? fileManager.contentsOfDirectory(atPath: target.path), !existing.isEmpty {
        fail("\(target.path) is not empty", "\(target.path) tidak kosong")
    }
    do {
        let netlab = try netlabRoot(of: kitRoot)
        try fileManager.createDirectory(at: target.appendingPathComponent("NetLab"), withIntermediateDirectories: true)
        // The kit: its manifest, runner, handouts and lab folders (their files as they are here:
        // export from a kit whose lab files are the starters).
        for item in try fileManager.contentsOfDirectory(atPath: kitRoot.path)
        where ["Package.swift", "Sources", "README.md", "README.id.md"].contains(item) || item.hasPrefix("lab") {
            try fileManager.copyItem(at: kitRoot.appendingPathComponent(item), to: target.appendingPathComponent(item))
        }
        // NetLab: the layers, the checks, the demo and the docs; not its answers, tests, benchmarks or tools.
        for item in try fileManager.contentsOfDirectory(atPath: netlab.path)
        where ["Package.swift", "Sources", "docs", "README.md"].contains(item) || item.hasPrefix("LICENSE") {
            try fileManager.copyItem(at: netlab.appendingPathComponent(item), to: target.appendingPathComponent("NetLab/" + item))
        }
        // Not for students: NetLab's answers, and the instructor's kit (quiz prompts, what the
        // checks catch).
        for path in ["NetLab/Sources/LabReferences", "NetLab/docs/TEACHING.md", "NetLab/docs/TEACHING.id.md"] {
            let url = target.appendingPathComponent(path)
            if fileManager.fileExists(atPath: url.path) { try fileManager.removeItem(at: url) }
        }
        try ".build/\nPackage.resolved\n.swiftpm/\n".write(to: target.appendingPathComponent(".gitignore"), atomically: true, encoding: .utf8)
    } catch {
        fail("export stopped: \(error)", "ekspor berhenti: \(error)")
    }
    print(say("""
        A student's copy of the kit is in \(target.path):
          the five labs' starters and handouts, the checks and the runner, and NetLab (NetLab/)
          without its answers to the labs, its tests or the instructor's kit (docs/TEACHING.md).
        Students: cd \(target.lastPathComponent) && swift run lab check 1
        Grading: from this kit, swift run lab grade PATH-TO-A-SUBMISSION --json --student ID
        """, """
        Salinan kit untuk mahasiswa ada di \(target.path):
          starter dan modul kelima lab, pemeriksaan dan runner-nya, serta NetLab (NetLab/)
          tanpa jawaban lab, tes-nya, atau kit pengajar (docs/TEACHING.md).
        Mahasiswa: cd \(target.lastPathComponent) && swift run lab check 1
        Penilaian: dari kit ini, swift run lab grade PATH-KIRIMAN --json --student ID
        """))
    return 0
}
