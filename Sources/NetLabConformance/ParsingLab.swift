import HTTPParser

/// Lab 2's checks: the specification table (``HTTPParserVectors``) run through the
/// ``ParserVerifier`` — every vector fed whole, one byte at a time, at seeded random splits and
/// pipelined — against any parser behind ``HTTPMessageParsing``.
public enum ParsingLab {
    public static let name = LabText(en: "HTTP parsing: a sans-IO request/response parser", id: "Parsing HTTP: parser permintaan/respons tanpa I/O")

    public static func suite<Parser: HTTPMessageParsing & Sendable>(makeParser: @escaping @Sendable (ParserConfiguration) -> Parser) -> LabSuite {
        let groups: [(String, LabText, [ParserVector])] = [
            ("2.1", LabText(en: "requests that parse: request line, fields, Content-Length and chunked bodies, keep-alive",
                            id: "permintaan yang valid: baris permintaan, field, body Content-Length dan chunked, keep-alive"),
             HTTPParserVectors.requests),
            ("2.2", LabText(en: "requests that must be refused, each with its rule and the offending byte",
                            id: "permintaan yang harus ditolak, masing-masing dengan aturannya dan byte penyebabnya"),
             HTTPParserVectors.requestErrors),
            ("2.3", LabText(en: "responses: status line, bodies by Content-Length, chunked, until close; HEAD and 1xx",
                            id: "respons: baris status, body menurut Content-Length, chunked, sampai koneksi ditutup; HEAD dan 1xx"),
             HTTPParserVectors.responses),
            ("2.4", LabText(en: "the two documented leniencies, only when asked for", id: "dua kelonggaran yang terdokumentasi, hanya bila diminta"),
             HTTPParserVectors.leniency),
        ]
        return LabSuite(number: 2, name: name, steps: groups.map { id, title, vectors in
            LabStep(id, title) {
                let verifier = ParserVerifier(makeParser: makeParser)
                var failing: [VerificationFailure] = []
                for vector in vectors { failing += verifier.verify(vector) }
                guard let first = failing.first else { return }
                let count = Set(failing.map(\.vector)).count
                throw LabFailure(
                    LabText(en: "\(count) of \(vectors.count) vectors fail; the first one:", id: "\(count) dari \(vectors.count) vektor gagal; yang pertama:"),
                    detail: first.description,
                    hint: LabText(en: "the vector's name is the rule (RFC 9112 section in the error); fix it, run again — the next one shows",
                                  id: "nama vektor adalah aturannya (bagian RFC 9112 ada di error); perbaiki, jalankan lagi — yang berikutnya akan tampil"))
            }
        })
    }
}
