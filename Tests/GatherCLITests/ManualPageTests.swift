import Foundation
import GatherSystem
import GatherTestSupport
import Testing

/// docs/gatherd.8 and docs/gatherctl.1 are rendered from the parser's own
/// description of each command line (``ManualPage``): the committed pages
/// must be what the built binaries describe now. With GATHER_WRITE_DOCS=1 the
/// test writes them first (scripts/generate-docs.sh).
@Suite("manual pages", .timeLimit(.minutes(2)))
struct ManualPageTests {
    static let gatherctlPage = ManualPage(
        section: 1, volume: "User Commands", version: GatherVersion.current,
        environment: [("GATHER_SPOOL", "The spool when --spool is not given.")],
        files: [("/var/spool/gatherd", "The default spool: incoming/ (job files waiting), active/ (claimed jobs), "
                 + "done/, failed/ and rejected/ (records), cancel/ (cancellation requests).")],
        seeAlso: ["gatherd(8)", "gatherd.job(5)", "journalctl(1)"])

    static let gatherdPage = ManualPage(
        section: 8, volume: "System Administration", version: GatherVersion.current,
        environment: [
            ("GATHER_SPOOL", "The spool when --spool is not given."),
            ("NOTIFY_SOCKET", "Set by systemd for a Type=notify service: READY=1, STATUS= and WATCHDOG=1 are sent there."),
            ("WATCHDOG_USEC", "Set by systemd with WatchdogSec=: WATCHDOG=1 is sent at half of it."),
        ],
        files: [("/var/spool/gatherd", "The default spool: incoming/ (job files waiting), active/ (claimed jobs), "
                 + "done/, failed/ and rejected/ (records), cancel/ (cancellation requests), paused (no new claims).")],
        seeAlso: ["gatherctl(1)", "gatherd.job(5)", "systemd.service(5)", "journalctl(1)"])

    static let pages: [(binary: String, page: ManualPage, file: String)] = [
        (CtlHarness.gatherd, gatherdPage, "docs/gatherd.8"),
        (CtlHarness.gatherctl, gatherctlPage, "docs/gatherctl.1"),
    ]

    @Test(arguments: [0, 1])
    func theCommittedPageIsWhatTheParserDescribes(index: Int) async throws {
        let (binary, page, file) = Self.pages[index]
        let dump = try await CtlHarness.run([binary, "--experimental-dump-help"])
        #expect(dump.status == 0, "\(dump.output)")
        let rendered = try page.render(dump.stdout)
        let path = TestJournald.packageRoot + "/" + file
        if ProcessInfo.processInfo.environment["GATHER_WRITE_DOCS"] == "1" {
            try Data(rendered.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        }
        let committed = try String(contentsOfFile: path, encoding: .utf8)
        #expect(committed == rendered, "\(file) is stale: run scripts/generate-docs.sh")
    }

    /// Every flag of the command line is on the page.
    @Test(arguments: [0, 1])
    func everyOptionIsOnThePage(index: Int) async throws {
        let (binary, _, file) = Self.pages[index]
        let page = try String(contentsOfFile: TestJournald.packageRoot + "/" + file, encoding: .utf8)
        let help = try await CtlHarness.run([binary, "--help"])
        let flags = Set(help.stdoutText.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "," || $0 == "[" })
            .filter { $0.hasPrefix("--") && $0.count > 2 }.map { String($0).replacingOccurrences(of: "]", with: "") })
        #expect(flags.count >= 3, "\(help.stdoutText)")
        for flag in flags {
            #expect(page.contains(flag.replacingOccurrences(of: "-", with: "\\-")), "\(flag) missing from \(file)")
        }
    }

    @Test(arguments: ["docs/gatherd.8", "docs/gatherctl.1", "docs/gatherd.job.5"])
    func manPrintsNoWarning(file: String) async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/man") else {
            print("skipped: man is not installed (scripts/setup.sh installs man-db)")
            return
        }
        let path = TestJournald.packageRoot + "/" + file
        let result = try await CtlHarness.run(["man", "--warnings", "-l", path], environment: ["MANWIDTH": "80", "MANPAGER": "cat", "PAGER": "cat"])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.stderr.isEmpty, "\(file): \(result.stderrText)")
        #expect(result.stdout.count > 500)
    }
}
