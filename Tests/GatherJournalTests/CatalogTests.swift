import Foundation
import GatherJournal
import GatherTestSupport
import Testing

/// `systemd/gatherd.catalog` installed for real: `journalctl --list-catalog`
/// lists every SPEC §7 MESSAGE_ID, and `journalctl -x` explains an entry.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct CatalogTests {
    static let installed = "/usr/lib/systemd/catalog/gatherd.catalog"

    /// Installs the project's catalog under the name a package install uses,
    /// runs `body`, then removes it again and rebuilds the catalog database.
    static func withInstalledCatalog(_ body: () throws -> Void) throws {
        let source = TestJournald.packageRoot + "/systemd/gatherd.catalog"
        try? FileManager.default.removeItem(atPath: installed)
        try FileManager.default.copyItem(atPath: source, toPath: installed)
        defer {
            try? FileManager.default.removeItem(atPath: installed)
            _ = try? Run.command(["journalctl", "--update-catalog"])
        }
        let update = try Run.command(["journalctl", "--update-catalog"])
        #expect(update.status == 0, "\(update.output)")
        try body()
    }

    @Test func everyMessageIdIsListedWithItsSubject() throws {
        guard TestJournald.canRun else { return }
        try Self.withInstalledCatalog {
            let list = try Run.command(["journalctl", "--list-catalog"])
            #expect(list.status == 0)
            for id in JournalMessageID.allCases {
                #expect(list.stdoutText.contains("\(id.rawValue) gatherd: \(id.subject)\n"), "\(id) missing")
            }
        }
    }

    @Test func journalctlExplainsAnEntryWrittenByATest() throws {
        guard TestJournald.canRun else { return }
        try TestJournald.ensureRunning()
        let id = "test-catalog-\(UUID().uuidString.prefix(8).lowercased())"
        let job = JobIdentity(id: id, run: String(repeating: "0", count: 32), name: "catalog job", uid: 1000)
        let writer = JournalWriter(configuration: .init(target: .journal))
        writer.log(.jobFailing(job, policy: .cancelSiblings, firstError: "dump-db: exited with status 1"))
        writer.close()
        #expect(writer.statistics.sent == 1)
        _ = try TestJournald.readBack(match: ["GATHER_JOB=\(id)"]) // synced
        try Self.withInstalledCatalog {
            let shown = try Run.command(["journalctl", "-x", "--no-pager", "GATHER_JOB=\(id)"])
            #expect(shown.stdoutText.contains("job \(id) (catalog job) failing: dump-db: exited with status 1"), "\(shown.output)")
            #expect(shown.stdoutText.contains("Subject: gatherd job \(id) is failing"), "\(shown.output)")
            #expect(shown.stdoutText.contains("the job's policy cancel-siblings reports the job failing at once"), "\(shown.output)")
            #expect(shown.stdoutText.contains("Defined-By: gatherd"), "\(shown.output)")
        }
    }
}
