/// What can stop `netlab net`, each saying what to do about it.
public enum LabNetworkError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Making namespaces and links needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN).
    case notPermitted
    /// A tool the network is built with is not installed.
    case toolMissing(String, String)
    /// A step failed: the command, its exit status and what it printed.
    case commandFailed(String, status: Int32, output: String)
    /// A name prefix that would not make valid namespace or interface names.
    case invalidPrefix(String)
    /// A packet socket could not be opened on an interface (the failed call and errno).
    case packetSocket(interface: String, String)
    /// A capture file could not be written.
    case captureFile(path: String, String)
    /// An impairment that cannot be read: the text and what was expected.
    case invalidImpairment(String, String)
    /// `--link` named no host of the topology.
    case unknownHost(String)
    /// A link emulator was started twice, or after it stopped.
    case emulatorLifecycle(String)
    /// Another run holds the prefix (its namespaces are in use).
    case prefixInUse(String)

    public var description: String {
        switch self {
        case .notPermitted:
            "netlab net needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) to make network namespaces and links; "
                + "run it with sudo. Without --net the demo runs on loopback."
        case .toolMissing(let tool, let why):
            "\(tool) is not installed (\(why)); install iproute2 (apt-get install iproute2)"
        case .commandFailed(let command, let status, let output):
            "`\(command)` failed with status \(status): \(output.trimmingTrailingWhitespace)"
        case .packetSocket(let interface, let why): "no packet socket on \(interface): \(why)"
        case .captureFile(let path, let why): "cannot write the capture \(path): \(why)"
        case .invalidImpairment(let text, let why): "\"\(text)\": \(why)"
        case .unknownHost(let name): "no host \"\(name)\" (the hosts are customer, merchant, gateway and bank)"
        case .emulatorLifecycle(let why): why
        case .prefixInUse(let prefix):
            "another netlab run is using the network \"\(prefix)\" (its namespaces \(prefix)-…); wait for it, or choose another prefix"
        case .invalidPrefix(let prefix):
            "the prefix \"\(prefix)\" must be 1-8 lowercase letters or digits, starting with a letter"
        }
    }
}

extension String {
    var trimmingTrailingWhitespace: String {
        var text = Substring(self)
        while let last = text.last, last.isWhitespace { text = text.dropLast() }
        return String(text)
    }
}
