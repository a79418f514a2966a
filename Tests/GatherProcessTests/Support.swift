import GatherProcess
import GatherSystem
import Glibc
import Synchronization

/// Collects output lines (as strings) with their stream.
final class LineCollector: Sendable {
    private let lines = Mutex<[(StandardStream, String)]>([])

    var all: [(StandardStream, String)] { lines.withLock { $0 } }
    func lines(_ stream: StandardStream) -> [String] { all.filter { $0.0 == stream }.map(\.1) }

    var handler: ProcessOutputHandler {
        { [self] stream, _, bytes in
            let line = String(decoding: bytes, as: UTF8.self)
            lines.withLock { $0.append((stream, line)) }
        }
    }
}

enum Support {
    static let path = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]

    static var launcher: ProcessLauncher {
        get throws { try ProcessLauncher.shared }
    }

    /// Runs a command to the end: status and output lines.
    static func run(
        _ command: [String], environment: [String] = path, cwd: String = "/", identity: ProcessIdentity? = nil,
        cgroup: Cgroup? = nil
    ) async throws -> (status: ExitStatus, out: [String], err: [String], process: RunningProcess) {
        let lines = LineCollector()
        let process = try launcher.spawn(
            ProcessSpec(command: command, environment: environment, cwd: cwd, identity: identity, cgroup: cgroup),
            output: lines.handler)
        let status = await process.exitStatus()
        await process.outputFinished(within: .seconds(10))
        return (status, lines.lines(.stdout), lines.lines(.stderr), process)
    }

    /// The helper executable, built next to the test bundle.
    static var helper: String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let exe = count > 0 ? String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        let directory = exe.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        return directory + "/gather-process-helper"
    }

    /// Runs the helper in `mode`; its `key=value` output words.
    static func runHelper(_ arguments: [String]) async throws -> (status: ExitStatus, values: [String: String], lines: [String]) {
        let result = try await run([helper] + arguments)
        var values: [String: String] = [:]
        for line in result.out {
            // Several `key=value` words per line; a value may not contain spaces
            // except for `report:env=…` lines, kept whole in `lines`.
            for word in line.split(separator: " ") {
                guard let equals = word.firstIndex(of: "=") else { continue }
                values[String(word[..<equals])] = String(word[word.index(after: equals)...])
            }
        }
        return (result.status, values, result.out)
    }

    /// A process is gone when it does not exist or is a zombie.
    static func isGone(_ pid: Int32) -> Bool {
        guard let file = fopen("/proc/\(pid)/stat", "r") else { return true }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 1024)
        guard fgets(&buffer, 1024, file) != nil else { return true }
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return true }
        let state = text[text.index(close, offsetBy: 2)]
        return state == "Z" || state == "X"
    }

    /// Waits up to `limit` for `pid` to be gone.
    static func waitGone(_ pid: Int32, within limit: Duration = .seconds(3)) async -> Bool {
        let end = ContinuousClock.now.advanced(by: limit)
        while ContinuousClock.now < end {
            if isGone(pid) { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return isGone(pid)
    }
}
