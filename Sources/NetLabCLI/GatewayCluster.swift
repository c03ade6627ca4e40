import ArgumentParser
import Foundation
import NetLab
import PaymentFlow
import TCPSocket
import TLSWrapper

/// `netlab serve gateway --instances N --store postgres://…`: N gateway processes on one
/// PostgreSQL database, nginx in front of them, all watched.
///
/// Theory of operation:
/// - **Start.** Instance 1 starts first (it makes the state folder's CA and certificate if they
///   are missing, and migrates the database); then the others, one at a time, each as
///   `netlab serve gateway --supervised --instance-port P` with this command's options. Instance
///   k listens on port `--port-base + 10 + k - 1`, and gives out the balancer's port in its URLs.
///   Then nginx starts on `--port-base` with a configuration written into `STATE/nginx/`
///   (``NginxConfiguration``), and the cluster waits until it accepts connections.
/// - **Watch.** An instance or nginx that exits is started again after a ``RestartBackoff`` wait.
///   Every two seconds each instance's `/healthz` is asked (open-source nginx only notices a dead
///   instance when a request fails); one that fails three probes in a row is stopped and so
///   restarted — an instance cut off from its database must not keep taking requests.
/// - **Stop.** SIGINT or SIGTERM stops nginx first (gracefully: requests in flight finish), then
///   the instances (each finishes its requests, then gives up its timers' turn).
/// - Under `netlab serve all --instances N` the cluster is the gateway service: it says it is
///   ready once nginx listens, and stops when its supervisor does.
/// - Each instance reads its standard input, whose other end only this process holds: if the
///   cluster dies, even by SIGKILL, the instances stop. nginx does not (it is not ours to
///   change); its pid is in `STATE/nginx/nginx.pid`.
struct GatewayCluster {
    let options: PaymentServeOptions
    let instances: Int
    /// The options to pass on, as given after `serve gateway`.
    let arguments: [String]

    private enum Unit: Hashable, Sendable, CustomStringConvertible {
        case instance(Int)
        case nginx

        var description: String {
            switch self {
            case .instance(let k): "gateway instance \(k)"
            case .nginx: "nginx"
            }
        }
    }

    private enum Event: Sendable {
        case line(Unit, String)
        case exited(Unit, pid: Int32, Process.TerminationReason, Int32)
        case terminate
        case restart(Unit)
        case unhealthy(Int, String)
        case healthy(Int)
    }

    private struct Child {
        let process: Process
        let lifeline: Pipe?
        let started: ContinuousClock.Instant
    }

    /// The port instance `k` (from 1) listens on.
    func port(of k: Int) -> UInt16 { options.portBase + 10 + UInt16(k - 1) }

    var stateDirectory: String { options.state ?? PaymentSystemOptions.defaultStateDirectory }

    func run() async throws {
        guard let nginx = NginxConfiguration.executable() else {
            say("nginx is not installed (Debian: apt-get install nginx; or set NETLAB_NGINX): it is the load balancer in front of the instances")
            throw ExitCode.failure
        }
        let (events, sink) = AsyncStream<Event>.makeStream()
        let signals = Task {
            _ = await TerminationSignals.first()
            sink.yield(.terminate)
        }
        defer { signals.cancel() }
        var iterator = events.makeAsyncIterator()
        var children: [Unit: Child] = [:]
        var lines: [String] = []

        // The instances, one at a time.
        for k in 1...instances {
            children[.instance(k)] = try spawnInstance(k, sink)
            var ready = false
            while !ready, let event = await iterator.next() {
                switch event {
                case .line(let unit, let text):
                    if text == ServiceSupervisor.readyLine { ready = ready || unit == .instance(k) } else if unit == .instance(1) { lines.append(text) }
                case .exited(let unit, _, let reason, let status):
                    say("\(unit) exited (\(ServiceSupervisor.describe(reason, status))) before it was ready")
                    children[unit] = nil
                    await stop(&children, &iterator)
                    throw ExitCode.failure
                case .terminate:
                    await stop(&children, &iterator)
                    return
                default: break
                }
            }
        }

        // nginx in front — after an nginx a killed cluster left behind (it is not tied to our
        // lifetime) is stopped: it would hold the port, and answer for instances gone.
        let configuration = nginxConfiguration()
        await Self.stopLeftover(pidFile: configuration.directory + "/nginx.pid")
        let path = try configuration.write()
        children[.nginx] = try spawnNginx(nginx, path, sink)
        guard await waitForListener(port: options.portBase) else {
            say("nginx did not start listening on port \(options.portBase); its log: \(configuration.directory)/error.log")
            await stop(&children, &iterator)
            throw ExitCode.failure
        }

        let scheme = options.plaintext ? "http" : "https"
        let gatewayURL = lines.first { $0.hasPrefix("gateway ") }.map { String($0.dropFirst("gateway ".count)) }
            ?? "\(scheme)://\(options.bind):\(options.portBase)"
        say("gateway \(gatewayURL) (nginx in front of \(instances) instances)")
        say("instances " + (1...instances).map { "\($0): port \(port(of: $0)), process \(children[.instance($0)]?.process.processIdentifier ?? 0)" }
            .joined(separator: "; "))
        say("healthz \(gatewayURL)/healthz")
        say("nginx \(path) (process \(children[.nginx]?.process.processIdentifier ?? 0))")
        for prefix in ["instructor ", "state ", "trust ", "merchant "] { if let line = lines.first(where: { $0.hasPrefix(prefix) }) { say(line) } }
        if let store = options.store { say("store \(PaymentSystemOptions.redacted(storeURL: store))") }
        if options.supervised { TerminationSignals.reportReady() }

        let probes = Task { await probe(sink) }
        defer { probes.cancel() }

        var backoff: [Unit: RestartBackoff] = [:]
        var stopping = false
        while !stopping, let event = await iterator.next() {
            switch event {
            case .line(let unit, let text):
                if text != ServiceSupervisor.readyLine, !text.hasPrefix("gateway "), case .instance = unit { say("[\(unit)] \(text)") }
                if unit == .nginx { say("[nginx] \(text)") }
            case .exited(let unit, let pid, let reason, let status):
                guard let child = children[unit], child.process.processIdentifier == pid else { continue }
                children[unit] = nil
                let wait = backoff[unit, default: RestartBackoff()].next(afterUptime: ContinuousClock.now - child.started)
                say("\(unit) died (\(ServiceSupervisor.describe(reason, status))); restarting it in \(ServiceSupervisor.seconds(wait)), the others keep serving")
                Self.restart(unit, after: wait, sink)
            case .restart(let unit):
                guard children[unit] == nil else { continue }
                do {
                    switch unit {
                    case .instance(let k): children[unit] = try spawnInstance(k, sink)
                    case .nginx: children[unit] = try spawnNginx(nginx, path, sink)
                    }
                    say("\(unit) restarted (process \(children[unit]?.process.processIdentifier ?? 0))")
                } catch {
                    let wait = backoff[unit, default: RestartBackoff()].next(afterUptime: .zero)
                    say("\(unit) could not be started (\(error)); trying again in \(ServiceSupervisor.seconds(wait))")
                    Self.restart(unit, after: wait, sink)
                }
            case .unhealthy(let k, let why):
                say("gateway instance \(k) failed three health checks (\(why)): stopping it to start it again")
                if let process = children[.instance(k)]?.process {
                    process.terminate()
                    // One whose shutdown hangs (on the very database it lost) is killed.
                    let pid = process.processIdentifier
                    Task {
                        try? await Task.sleep(for: .seconds(15))
                        if process.isRunning, process.processIdentifier == pid { kill(pid, SIGKILL) }
                    }
                }
            case .healthy(let k):
                say("gateway instance \(k) is healthy")
            case .terminate:
                stopping = true
            }
        }
        if !options.supervised { say("shutting down… (a second Ctrl-C stops at once)") }
        probes.cancel()
        await stop(&children, &iterator)
    }

    private func nginxConfiguration() -> NginxConfiguration {
        let ca = stateDirectory + "/ca"
        let tls = options.plaintext ? nil : NginxConfiguration.TLS(
            certificatePath: ca + "/services.pem", privateKeyPath: ca + "/services.key", trustedCAPath: ca + "/ca.pem")
        let upstreamHost = ["0.0.0.0", "::", ""].contains(options.bind) ? "127.0.0.1" : options.bind
        let host = upstreamHost.contains(":") ? "[\(upstreamHost)]" : upstreamHost
        return NginxConfiguration(listenHost: options.bind, listenPort: options.portBase, upstreams: (1...instances).map { "\(host):\(port(of: $0))" },
                                  tls: tls, directory: stateDirectory + "/nginx")
    }

    private func spawnInstance(_ k: Int, _ sink: AsyncStream<Event>.Continuation) throws -> Child {
        let unit = Unit.instance(k)
        let (process, lifeline) = try SupervisedProcess.launch(
            ServiceSupervisor.executable,
            ["serve", "gateway", "--supervised", "--instance-port", String(port(of: k))] + arguments.filter { $0 != "--supervised" },
            onLine: { sink.yield(.line(unit, $0)) },
            onExit: { sink.yield(.exited(unit, pid: $0.processIdentifier, $0.terminationReason, $0.terminationStatus)) })
        return Child(process: process, lifeline: lifeline, started: .now)
    }

    private func spawnNginx(_ nginx: String, _ path: String, _ sink: AsyncStream<Event>.Continuation) throws -> Child {
        let directory = (path as NSString).deletingLastPathComponent
        let (process, _) = try SupervisedProcess.launch(
            nginx, ["-c", path, "-p", directory + "/", "-e", directory + "/error.log"],
            onLine: { sink.yield(.line(.nginx, $0)) },
            onExit: { sink.yield(.exited(.nginx, pid: $0.processIdentifier, $0.terminationReason, $0.terminationStatus)) })
        return Child(process: process, lifeline: nil, started: .now)
    }

    private static func restart(_ unit: Unit, after wait: Duration, _ sink: AsyncStream<Event>.Continuation) {
        Task {
            try? await Task.sleep(for: wait)
            sink.yield(.restart(unit))
        }
    }

    /// Stops the nginx whose master's pid is in `pidFile`, if it still runs (SIGQUIT, then
    /// SIGKILL after 5 s).
    private static func stopLeftover(pidFile: String) async {
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
            let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1, kill(pid, 0) == 0,
            let command = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8), command.contains("nginx")
        else { return }
        say("stopping the nginx a previous run left (process \(pid))")
        kill(pid, SIGQUIT)
        for _ in 0..<50 where kill(pid, 0) == 0 { try? await Task.sleep(for: .milliseconds(100)) }
        if kill(pid, 0) == 0 { kill(pid, SIGKILL) }
    }

    /// Up to 10 s for a TCP listener on `port`.
    private func waitForListener(port: UInt16) async -> Bool {
        let host = ["0.0.0.0", ""].contains(options.bind) ? "127.0.0.1" : options.bind == "::" ? "::1" : options.bind
        for _ in 0..<100 {
            if let connection = try? await AsyncTCPConnection.connect(host: host, port: port) {
                await connection.close()
                return true
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    /// Asks each instance's `/healthz` every two seconds; reports three failures in a row, and
    /// the first success after them.
    private func probe(_ sink: AsyncStream<Event>.Continuation) async {
        var configuration = HTTPClientConfiguration()
        configuration.requestTimeout = .seconds(2)
        configuration.connectTimeout = .seconds(2)
        if !options.plaintext {
            configuration.tls = try? TLSContext(.client(trustRootsFile: stateDirectory + "/ca/ca.pem"))
        }
        let client = HTTPClient(configuration: configuration)
        defer { Task { await client.shutdown() } }
        let scheme = options.plaintext ? "http" : "https"
        let host = ["0.0.0.0", "::", ""].contains(options.bind) ? "127.0.0.1" : options.bind
        var failures: [Int: Int] = [:]
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(2))
            for k in 1...instances where !Task.isCancelled {
                let why: String?
                do {
                    let response = try await client.get("\(scheme)://\(host.contains(":") ? "[\(host)]" : host):\(port(of: k))/healthz")
                    why = response.status == 200 ? nil : "answered \(response.status)"
                } catch {
                    why = "\(error)"
                }
                if let why {
                    failures[k, default: 0] += 1
                    if failures[k] == 3 { sink.yield(.unhealthy(k, why)) }
                } else {
                    if failures[k, default: 0] >= 3 { sink.yield(.healthy(k)) }
                    failures[k] = 0
                }
            }
        }
    }

    /// nginx first (SIGQUIT: finish what is in flight), then the instances (SIGTERM); SIGKILL
    /// for anything still there after 15 s.
    /// How long each tier of a stop (nginx, then the instances) may take before SIGKILL.
    static let tierGrace: Duration = .seconds(15)
    /// The longest a whole stop takes: what a supervisor above the cluster waits before its own SIGKILL.
    static let longestStop: Duration = tierGrace * 2

    private func stop(_ children: inout [Unit: Child], _ iterator: inout AsyncStream<Event>.Iterator) async {
        for tier in [[Unit.nginx], (1...instances).map(Unit.instance)] {
            var waiting = Set(tier.filter { children[$0] != nil })
            for unit in waiting {
                guard let process = children[unit]?.process else { continue }
                if unit == .nginx { kill(process.processIdentifier, SIGQUIT) } else { process.terminate() }
            }
            let pids = waiting.compactMap { children[$0]?.process.processIdentifier }
            let watchdog = Task {
                try? await Task.sleep(for: Self.tierGrace)
                guard !Task.isCancelled else { return }
                for pid in pids { kill(pid, SIGKILL) }
            }
            while !waiting.isEmpty, let event = await iterator.next() {
                if case .exited(let unit, _, _, _) = event {
                    waiting.remove(unit)
                    children[unit] = nil
                }
            }
            watchdog.cancel()
        }
    }
}
