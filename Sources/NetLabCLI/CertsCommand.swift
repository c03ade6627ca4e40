import ArgumentParser
import Foundation
import TLSWrapper

/// `netlab certs init|issue NAME|show [NAME]`: the lab's certificate authority, made in-process.
struct Certs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create and inspect the lab's certificate authority and certificates (no openssl CLI needed).",
        subcommands: [Initialize.self, Issue.self, Show.self])

    struct Options: ParsableArguments {
        @Option(help: "Directory for ca.pem, ca.key and the issued NAME.pem/NAME.key (keys are written 0600).")
        var dir = "certs"
    }

    struct Initialize: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "init", abstract: "Create the CA (kept if it exists).")
        @OptionGroup var options: Options

        func run() throws {
            let ca = try LabCertificateAuthority(directory: options.dir)
            print("CA certificate: \(ca.certificatePath)\nCA key:         \(ca.privateKeyPath) (mode 0600)")
            print(try LabCertificateAuthority.summary(ofCertificateAt: ca.certificatePath))
        }
    }

    struct Issue: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Issue a certificate for NAME (and localhost, 127.0.0.1, ::1, and every --san).")
        @OptionGroup var options: Options
        @Argument(help: "The name the certificate is for, e.g. gateway.test.") var name: String
        @Option(name: .customLong("san"), help: "One more DNS name or IP address it is valid for (repeatable), e.g. --san lab-pc-07 --san 10.0.0.7.")
        var san: [String] = []
        @Flag(help: "Make a new certificate even if one exists (one that lacks a name asked for is always made again).") var renew = false

        func run() throws {
            let ca = try LabCertificateAuthority(directory: options.dir)
            let issued = try ca.issue(name: name, extraNames: ["localhost", "127.0.0.1", "::1"] + san, reuse: !renew)
            print("certificate: \(issued.certificatePath)\nkey:         \(issued.privateKeyPath) (mode 0600)")
            print(try LabCertificateAuthority.summary(ofCertificateAt: issued.certificatePath))
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the CA, or the certificate issued for NAME.")
        @OptionGroup var options: Options
        @Argument(help: "A name issued before; omit for the CA.") var name: String?

        func run() throws {
            let path = options.dir + "/" + (name.map { "\($0).pem" } ?? "ca.pem")
            guard FileManager.default.fileExists(atPath: path) else {
                throw ValidationError("no \(path): run `netlab certs init` (and `netlab certs issue NAME`) first")
            }
            let summary = try LabCertificateAuthority.summary(ofCertificateAt: path)
            print("file:    \(path)\nsubject: \(summary.subject)\nissuer:  \(summary.issuer)")
            print("names:   \(summary.subjectAlternativeNames.joined(separator: ", "))\nvalid:   \(summary.notBefore) – \(summary.notAfter)")
        }
    }
}
