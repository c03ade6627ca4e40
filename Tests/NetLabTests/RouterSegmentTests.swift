import Testing

@testable import NetLab

@Suite("Router segments")
struct RouterSegmentTests {
    /// What `segments(of:)` must give: the pieces between slashes, the piece before the first
    /// slash left out (the same as splitting on "/" keeping empty pieces, then dropping the first).
    static let paths: [(path: String, segments: [String])] = [
        ("/hello", ["hello"]),
        ("/v2/abc-1/status", ["v2", "abc-1", "status"]),
        ("/", [""]),
        ("/a/", ["a", ""]),
        ("//x", ["", "x"]),
        ("", []),
        ("no-slash", []),
        ("a/b", ["b"]),
        ("/caf\u{E9}/%41", ["caf\u{E9}", "%41"]),
    ]

    @Test("a path's segments", arguments: paths.map(\.path))
    func segments(path: String) {
        let expected = Self.paths.first { $0.path == path }!.segments
        #expect(Router.segments(of: path).map(String.init) == expected)
        #expect(expected == path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init))
    }
}
