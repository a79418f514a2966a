import Foundation
import Testing
@testable import GatherDaemon

@Suite("Spool entry names and the start-up order")
struct SpoolEntryNameTests {
    @Test("the SPEC §3 name rules", arguments: [
        ("job.json", true, true), ("a.json", true, true), (".json", false, false),
        (".job.json", false, false), ("job.JSON", false, true), ("job.json.tmp", false, true),
        ("json", false, true), ("x.jsonx", false, true), ("", false, false), ("..", false, false),
    ])
    func rules(name: String, claimable: Bool, cancel: Bool) {
        #expect(SpoolEntryName(name).isClaimableJobFile == claimable)
        #expect(SpoolEntryName(name).isCancelRequest == cancel)
    }

    @Test("a file dropped between the watch and start() is in the scan and is also an event")
    func nothingFallsBetweenWatchAndScan() async throws {
        let spool = try TemporarySpool()
        let watcher = try SpoolWatcher(incoming: spool.incoming, cancel: spool.cancel)
        try spool.drop("early.json", into: spool.incoming)
        #expect(try SpoolScan.incoming(spool.incoming) == ["early.json"])
        try watcher.start()
        let events = await collect(watcher.events) { !$0.isEmpty }
        #expect(events == [.incoming(name: "early.json", kind: .renamedIn)])
    }
}
