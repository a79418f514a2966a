import Foundation

/// A real journald for tests, through the project's `scripts/test-journald.sh`.
///
///     guard TestJournald.canRun else { return }   // prints why it skips
///     try TestJournald.ensureRunning()
///     let entries = try TestJournald.readBack(match: ["GATHER_JOB=t-\(UUID())"])
///
/// The journal socket is shared by everything on the machine: give every test
/// its own job IDs and match on them.
public enum TestJournald {
    /// Whether journald tests can run here (root); when not, prints the reason once per call.
    public static var canRun: Bool {
        if getuid() == 0 { return true }
        print("skipped: journald tests need root (uid \(getuid()))")
        return false
    }

    /// Starts a journald unless one answers; never stops one it did not start.
    /// Safe when several test processes call it at once (the script takes a lock).
    public static func ensureRunning() throws {
        let result = try Run.command(["/bin/sh", scriptPath, "start"])
        guard result.status == 0 else {
            throw FixtureError(what: "test-journald.sh start", output: result.output)
        }
    }

    /// Every entry matching all `match` strings (`NAME=value`), read with
    /// `journalctl -o json --all` after `journalctl --sync`. Repeated fields
    /// come back as several values; byte-array values are decoded as UTF-8.
    /// With `directory`, reads the journal files there instead (`journalctl -D`,
    /// e.g. what `systemd-journal-remote` wrote), without the sync.
    public static func readBack(match: [String], directory: String? = nil) throws -> [ReadBackEntry] {
        if directory == nil { _ = try Run.command(["journalctl", "--sync"]) }
        let source = directory.map { ["-D", $0] } ?? []
        let result = try Run.command(["journalctl"] + source + ["-o", "json", "--all", "--no-pager"] + match)
        guard result.status == 0 || result.status == 1 else {
            throw FixtureError(what: "journalctl", output: result.output)
        }
        var entries: [ReadBackEntry] = []
        for line in result.stdout.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            let object = try JSONSerialization.jsonObject(with: Data(line))
            guard let dictionary = object as? [String: Any] else { continue }
            var fields: [String: [String]] = [:]
            for (name, value) in dictionary { fields[name] = strings(value) }
            entries.append(ReadBackEntry(fields: fields))
        }
        return entries
    }

    /// `scripts/test-journald.sh` of this package, found from this file's place.
    public static var scriptPath: String {
        packageRoot + "/scripts/test-journald.sh"
    }

    /// The package's root folder.
    public static var packageRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().path
    }

    private static func strings(_ value: Any) -> [String] {
        if let text = value as? String { return [text] }
        if let list = value as? [Any] {
            // A list of numbers is one binary value; a list of anything else, a repeated field.
            if !list.isEmpty, list.allSatisfy({ $0 is NSNumber && !($0 is String) }) {
                let bytes = list.compactMap { ($0 as? NSNumber)?.uint8Value }
                return [String(decoding: bytes, as: UTF8.self)]
            }
            return list.flatMap { strings($0) }
        }
        return []
    }
}

/// One entry as `journalctl -o json` printed it.
public struct ReadBackEntry: Sendable {
    /// Every field; a repeated field has several values.
    public let fields: [String: [String]]

    /// The first value of `name`.
    public subscript(name: String) -> String? { fields[name]?.first }
}

/// A fixture that could not do its part; the description says what it printed.
public struct FixtureError: Error, CustomStringConvertible {
    public let what: String
    public let output: String
    public var description: String { "\(what) failed: \(output)" }

    public init(what: String, output: String) {
        self.what = what
        self.output = output
    }
}
