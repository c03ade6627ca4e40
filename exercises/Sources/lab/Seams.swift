// Whose code is checked: the student's five files, or — in NetLab's repository, built with
// -Xswiftc -DNETLAB_REFERENCE — NetLab's own answers, through the same seams.
import HTTPParser
import Lab1Sockets
import Lab2HTTPParsing
import Lab3HTTPServer
import Lab4TLS
import Lab5Webhooks
import NetLabConformance
import PaymentFlow

#if NETLAB_REFERENCE
#if !canImport(LabReferences)
#error("NetLab's answers (LabReferences) are only in NetLab's repository, not in a student's copy of the kit")
#endif
import LabReferences

let mode = "reference"
let echo: any EchoLab = ReferenceEcho()
let makeParser: @Sendable (ParserConfiguration) -> AnyHTTPMessageParser = {
    AnyHTTPMessageParser(HTTPMessageParser(parsing: $0.kind, limits: $0.limits, options: $0.options))
}
let webhook: any WebhookHandling = ReferenceWebhookHandler()
let server: any HTTPConnectionServing = ReferenceHTTPConnection()
let tlsClient: any TLSClientWrapping = ReferenceTLSClient()
#else
let mode = "student"
let echo: any EchoLab = StudentEcho()
let makeParser: @Sendable (ParserConfiguration) -> AnyHTTPMessageParser = { AnyHTTPMessageParser(StudentParser($0)) }
let webhook: any WebhookHandling = StudentWebhook()
let server: any HTTPConnectionServing = StudentServer()
let tlsClient: any TLSClientWrapping = StudentTLSClient()
#endif

extension AnyHTTPMessageParser: @retroactive @unchecked Sendable {}

/// The labs in order.
func suites() -> [(number: Int, name: LabText, suite: LabSuite)] {
    [
        (1, SocketsLab.name, SocketsLab.suite(echo)),
        (2, ParsingLab.name, ParsingLab.suite(makeParser: makeParser)),
        (3, ServerLab.name, ServerLab.suite(server)),
        (4, TLSLab.name, TLSLab.suite(tlsClient)),
        (5, WebhooksLab.name, WebhooksLab.suite(webhook)),
    ]
}
