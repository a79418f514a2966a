import Foundation
import Testing
@testable import GatherDaemon

@Suite("Spool scan")
struct SpoolScanTests {
    @Test("incoming/ lists claimable names of any type, in arrival order")
    func incomingInArrivalOrder() async throws {
        let spool = try TemporarySpool()
        // File timestamps move in clock ticks (a few ms): space the drops.
        for name in ["charlie.json", "alpha.json", "bravo.json"] {
            try spool.drop(name, into: spool.incoming)
            try await Task.sleep(for: .milliseconds(30))
        }
        #expect(symlink("/etc/passwd", spool.incoming + "/zz-link.json") == 0)
        try spool.drop(".hidden.json", into: spool.incoming)
        try spool.drop("readme.txt", into: spool.incoming)
        #expect(try SpoolScan.incoming(spool.incoming)
            == ["charlie.json", "alpha.json", "bravo.json", "zz-link.json"])
    }

    @Test("the same instant is ordered by name")
    func sameInstantByName() throws {
        let spool = try TemporarySpool()
        let names = (0..<50).map { "job-\(String($0, radix: 36)).json" }
        for name in names.shuffled() { spool.write(name, in: spool.incoming) }
        let listed = try SpoolScan.incoming(spool.incoming)
        #expect(Set(listed) == Set(names.map { SpoolEntryName($0) }))
        // Within each timestamp tick the order is by name: check pairwise.
        var ctimes: [SpoolEntryName: timespec] = [:]
        for name in listed {
            var info = stat()
            #expect(lstat(spool.incoming + "/" + name.description, &info) == 0)
            ctimes[name] = info.st_ctim
        }
        for (a, b) in zip(listed, listed.dropFirst()) {
            let (ta, tb) = (ctimes[a]!, ctimes[b]!)
            #expect((ta.tv_sec, ta.tv_nsec) <= (tb.tv_sec, tb.tv_nsec))
            if ta.tv_sec == tb.tv_sec && ta.tv_nsec == tb.tv_nsec { #expect(a < b) }
        }
    }

    @Test("cancel/ lists every name but dotfiles, sorted")
    func cancelNames() throws {
        let spool = try TemporarySpool()
        for name in ["job-b", ".tmp-x", "job-a", "job-c.json"] { spool.write(name, in: spool.cancel) }
        #expect(try SpoolScan.cancelRequests(spool.cancel) == ["job-a", "job-b", "job-c.json"])
    }

    @Test("a missing directory is a clear error")
    func missing() throws {
        let spool = try TemporarySpool()
        let error = #expect(throws: EventSourceError.self) { try SpoolScan.incoming(spool.root + "/gone") }
        #expect(error?.description == "spool scan: cannot list \(spool.root)/gone: No such file or directory")
    }
}
