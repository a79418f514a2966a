import Foundation
import GatherTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension GatherdEndToEnd {
    /// The real daemon running as root (SPEC §8): tasks run as the file's owner
    /// with its groups; only a root-owned file may name another `user`.
    @Suite("gatherd end to end: identity", .serialized, .timeLimit(.minutes(3)))
    struct IdentityEndToEndTests {
        init() throws {
            try TestJournald.ensureRunning()
        }

        /// A task that prints who it runs as, in one line.
        private static let whoAmI = #"{"name": "who", "command": ["sh", "-c", "echo uid=$(id -u) gid=$(id -g) groups=$(id -G) user=$USER home=$HOME"]}"#

        /// The line ``whoAmI`` prints for `user`, from the passwd and group databases.
        private func expectedLine(_ user: String) throws -> String {
            let account = try #require(getpwnam(user)?.pointee, "no passwd entry for \(user)")
            let groups = try Run.command(["id", "-G", user]).stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
            return "uid=\(account.pw_uid) gid=\(account.pw_gid) groups=\(groups) user=\(user) home=\(String(cString: account.pw_dir))"
        }

        /// What the task `who` of job `id` printed, read back from the journal.
        private func printed(_ harness: DaemonHarness, _ id: String) throws -> String? {
            try harness.journal(id).first { $0["GATHER_TASK"] == "who" && $0["GATHER_STREAM"] == "stdout" }?["MESSAGE"]
        }

        @Test func tasksRunAsTheFileOwner() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("owner")
            let nobody = try harness.drop(harness.id("nobody"), #"{"tasks": [\#(Self.whoAmI)]}"#, owner: DaemonHarness.nobody)
            let root = try harness.drop(harness.id("root"), #"{"tasks": [\#(Self.whoAmI)]}"#)
            try await harness.runUntilIdle()

            let record = try harness.record(nobody)
            #expect(record.state == "succeeded")
            #expect(record.object["uid"] as? Int == 65534)
            #expect(record.object["user"] as? String == "nobody")
            #expect(record.object["run_as"] as? String == "nobody")
            #expect(try printed(harness, nobody) == expectedLine("nobody"))
            #expect(try harness.journal(nobody).first?["GATHER_UID"] == "65534")

            let rootRecord = try harness.record(root)
            #expect(rootRecord.object["run_as"] as? String == "root")
            #expect(try printed(harness, root) == expectedLine("root"))
        }

        @Test func aRootOwnedFileMayNameAnotherUser() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("as-nobody")
            let id = try harness.drop(harness.id("job"), #"{"user": "nobody", "tasks": [\#(Self.whoAmI)]}"#)
            try await harness.runUntilIdle()
            let record = try harness.record(id)
            #expect(record.state == "succeeded")
            // The submitter is still root; only the tasks run as nobody.
            #expect(record.object["uid"] as? Int == 0)
            #expect(record.object["user"] as? String == "root")
            #expect(record.object["run_as"] as? String == "nobody")
            #expect(try printed(harness, id) == expectedLine("nobody"))
        }

        @Test func anotherUserOrAnUnknownOneIsRejected() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("not-yours")
            let marker = harness.spool + "/ran"
            let touch = #"{"name": "t", "command": ["touch", "\#(marker)"]}"#
            // nobody may not name root; root may not name a user without a passwd entry.
            let asRoot = try harness.drop(harness.id("as-root"), #"{"user": "root", "tasks": [\#(touch)]}"#,
                                          owner: DaemonHarness.nobody)
            let unknown = try harness.drop(harness.id("unknown"), #"{"user": "no-such-user-gatherd", "tasks": [\#(touch)]}"#)
            try await harness.runUntilIdle()

            for id in [asRoot, unknown] {
                let record = try harness.record(id)
                #expect(record.area == "rejected", "\(id)")
                #expect(record.state == "rejected", "\(id)")
                #expect(record.error?.contains("user") == true, "\(id): \(record.error ?? "nil")")
                let entry = try harness.journal(id).first { $0["MESSAGE_ID"] == "14aab89053904a78921c57d0c64d6cac" }
                #expect(entry?["MESSAGE"]?.hasPrefix("job file \(id).json rejected: user") == true, "\(entry?["MESSAGE"] ?? "nil")")
            }
            #expect(try harness.record(asRoot).object["uid"] as? Int == 65534)
            #expect(!FileManager.default.fileExists(atPath: marker), "a rejected job ran")
        }

        @Test func aFileOfAUidWithoutAccountIsRejectedAndAnOwnerMayNameItself() async throws {
            guard TestJournald.canRun else { return }
            let harness = try DaemonHarness("no-account")
            let marker = harness.spool + "/ran"
            let stranger: uid_t = 4242
            try #require(getpwuid(stranger) == nil, "uid \(stranger) has a passwd entry here")
            let orphan = try harness.drop(
                harness.id("orphan"), #"{"tasks": [{"name": "t", "command": ["touch", "\#(marker)"]}]}"#, owner: stranger)
            // Naming the owner itself is no other user.
            let named = try harness.drop(
                harness.id("named"), #"{"user": "nobody", "tasks": [\#(Self.whoAmI)]}"#, owner: DaemonHarness.nobody)
            try await harness.runUntilIdle()

            let rejected = try harness.record(orphan)
            #expect(rejected.state == "rejected")
            #expect(rejected.object["uid"] as? Int == Int(stranger))
            #expect(rejected.error?.contains("the file owner (uid 4242) has no passwd entry") == true, "\(rejected.error ?? "nil")")
            #expect(try harness.journal(orphan).contains { $0["MESSAGE_ID"] == "14aab89053904a78921c57d0c64d6cac" })
            #expect(!FileManager.default.fileExists(atPath: marker), "a job of a uid without account ran")

            let record = try harness.record(named)
            #expect(record.state == "succeeded")
            #expect(record.object["run_as"] as? String == "nobody")
            #expect(try printed(harness, named) == expectedLine("nobody"))
        }
    }
}
