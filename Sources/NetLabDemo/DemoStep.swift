import Foundation
import PaymentFlow

/// One step of the demo's story: who did what to whom, at which layer, and what crossed.
///
/// The stream of steps is the demo's product: the terminal renderer narrates it, `--json`
/// prints it one object per line, `--trace` turns it into a Mermaid sequence diagram, and the
/// tests assert on it (kinds, actors and outcomes, in order).
public struct DemoStep: Codable, Sendable, Equatable {
    public enum Layer: String, Codable, Sendable, CaseIterable {
        case tcp, tls, http, payment, note
    }

    /// What kind of event a step is (its JSON spelling, e.g. `http.request`, is the raw value).
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case tcpConnect = "tcp.connect"
        case tlsHandshake = "tls.handshake"
        case tlsRefused = "tls.refused"
        case httpRequest = "http.request"
        case httpResponse = "http.response"
        /// The gateway recorded a status change.
        case paymentGateway = "payment.gateway"
        /// The merchant's order changed.
        case paymentOrder = "payment.order"
        /// The merchant checked a webhook.
        case paymentWebhook = "payment.webhook"
        case paymentBank = "payment.bank"
        case paymentFraud = "payment.fraud"
        /// An interceptor read what it should not have (the mitm story).
        case paymentEavesdropped = "payment.eavesdropped"
        case note

        /// Its layer's events: `http.request` and `http.response` are HTTP's.
        public func isOf(_ layer: Layer) -> Bool { rawValue.hasPrefix(layer.rawValue + ".") || (layer == .note && self == .note) }
    }

    /// 1, 2, 3 … in the order things happened.
    public var number: Int
    public var layer: Layer
    public var kind: Kind
    /// The actor acting (for messages: the sender).
    public var from: String
    /// The receiver of a message, if this step is one.
    public var to: String?
    public var title: String
    /// The lines under the title (heads, pretty JSON, handshake facts …).
    public var details: [String]
    /// The result in one word or phrase (`capture`, `verified`, `401`, …), for tests and the trace.
    public var outcome: String?
    /// What crossed the wire for this step, when it was a message.
    public var wire: DemoWire?
    /// The payment actor's decision this step narrates (its `payment.*` steps): what stories and
    /// tests wait on, typed — never the sentence written for people. Not in the JSON.
    public var event: PaymentEvent?

    enum CodingKeys: String, CodingKey {
        case number, layer, kind, from, to, title, details, outcome, wire
    }

    public init(number: Int = 0, layer: Layer, kind: Kind, from: String, to: String? = nil, title: String,
                details: [String] = [], outcome: String? = nil, wire: DemoWire? = nil, event: PaymentEvent? = nil) {
        self.number = number
        self.layer = layer
        self.kind = kind
        self.from = from
        self.to = to
        self.title = title
        self.details = details
        self.outcome = outcome
        self.wire = wire
        self.event = event
    }
}

/// The same message seen above TLS (the HTTP bytes the programs exchange) and below it (the
/// TLS records on the TCP connection: what an eavesdropper sees).
public struct DemoWire: Codable, Sendable, Equatable {
    /// The HTTP message's bytes.
    public var plaintext: Data
    /// The TLS records carrying it (nil without TLS: then the plaintext *is* what crosses TCP).
    public var ciphertext: Data?
    /// Secrets in the plaintext an eavesdropper would want (card number, server key): the
    /// wiretap view highlights them.
    public var sensitive: [String]
    /// How many of the first records are TLS 1.3 session tickets, not this message (a server's
    /// first answer on a connection carries them).
    public var sessionTickets = 0

    public init(plaintext: [UInt8], ciphertext: [UInt8]?, sensitive: [String]) {
        self.plaintext = Data(plaintext)
        self.ciphertext = ciphertext.map { Data($0) }
        self.sensitive = sensitive
    }
}

/// A TLS record's header as a wire observer reads it (RFC 8446 §5.1): everything after it is opaque.
public struct TLSRecordSummary: Sendable, Equatable {
    public var contentType: UInt8
    public var length: Int

    public var name: String {
        switch contentType {
        case 20: "change_cipher_spec"
        case 21: "alert"
        case 22: "handshake"
        case 23: "application_data"
        default: "type \(contentType)"
        }
    }

    /// The records in `bytes` (a trailing partial record is counted as far as it goes).
    public static func parse(_ bytes: [UInt8]) -> [TLSRecordSummary] {
        var records: [TLSRecordSummary] = []
        var index = 0
        while index + 5 <= bytes.count {
            let length = Int(bytes[index + 3]) << 8 | Int(bytes[index + 4])
            records.append(TLSRecordSummary(contentType: bytes[index], length: length))
            index += 5 + length
        }
        return records
    }
}
