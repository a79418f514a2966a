import Foundation
import GatherTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension RobustnessEndToEnd {
    /// `--metrics-file` (SPEC §9) read back with prometheus_client's own text
    /// parser (Debian's python3-prometheus-client, through `metrics_check.py`).
    @Suite("gatherd end to end: the metrics file", .serialized, .timeLimit(.minutes(3)))
    struct MetricsEndToEndTests {
        /// The script beside these tests, run with Debian's Python (where the package is).
        static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Scripts/metrics_check.py").path

        /// Why the parser cannot run here, or nil when it can.
        static func parserMissing() throws -> String? {
            let probe = try Run.command(["/usr/bin/python3", "-c", "import prometheus_client.parser"])
            return probe.status == 0 ? nil : "prometheus_client cannot be imported (scripts/setup.sh installs python3-prometheus-client): \(probe.output)"
        }

        static func values(_ path: String) throws -> [String: Double] {
            let result = try Run.command(["/usr/bin/python3", script, "values", path])
            guard result.status == 0 else { throw FixtureError(what: "parse \(path)", output: result.output) }
            return try JSONDecoder().decode([String: Double].self, from: result.stdout)
        }

        @Test func countersMatchTheRecordsAfterAMixedBatch() async throws {
            if let reason = try Self.parserMissing() {
                print("skipped: \(reason)")
                return
            }
            let harness = try DaemonHarness("metrics")
            let metrics = harness.spool + "/metrics.prom"
            for index in 0..<4 { try harness.drop(harness.id("ok\(index)"), #"{"tasks": [{"name": "a", "command": ["true"]}, {"name": "b", "command": ["true"]}]}"#) }
            for index in 0..<3 {
                try harness.drop(harness.id("bad\(index)"), #"{"tasks": [{"name": "a", "command": ["true"]}, {"name": "b", "command": ["false"], "after": ["a"]}]}"#)
            }
            for index in 0..<2 { try harness.drop(harness.id("rej\(index)"), #"{"tasks": "not a list"}"#) }

            let daemon = try await harness.runToIdle(["--metrics-file", metrics, "--log-target", "stderr"])
            #expect(daemon.process.terminationStatus == 0, "\(daemon.stderr)")
            let values = try await offPool { try Self.values(metrics) }

            var byState: [String: Double] = [:]
            var tasks: [String: Double] = [:]
            let ids = (0..<4).map { harness.id("ok\($0)") } + (0..<3).map { harness.id("bad\($0)") } + (0..<2).map { harness.id("rej\($0)") }
            for id in ids {
                let record = try harness.record(id)
                byState[record.state ?? "?", default: 0] += 1
                for task in record.tasks { tasks[task["outcome"] as? String ?? "?", default: 0] += 1 }
            }
            #expect(byState == ["succeeded": 4, "failed": 3, "rejected": 2])
            for state in ["succeeded", "failed", "rejected", "cancelled", "interrupted"] {
                #expect(values["gatherd_jobs_total{state=\(state)}"] == byState[state, default: 0], "\(state)")
            }
            for (outcome, count) in tasks {
                #expect(values["gatherd_tasks_total{outcome=\(outcome)}"] == count, "\(outcome)")
            }
            #expect(values["gatherd_tasks_total{outcome=succeeded}"] == 11)
            #expect(values["gatherd_tasks_total{outcome=failed}"] == 3)
            // Every job that ran had a first task start; the rejected ones did not.
            #expect(values["gatherd_claim_seconds_count"] == 7)
            #expect(values["gatherd_jobs_running"] == 0)
            #expect(values["gatherd_tasks_running"] == 0)
            #expect(values["gatherd_jobs_queued"] == 0)
            #expect(values["gatherd_incoming_files"] == 0)
            #expect(values["gatherd_spool_write_errors_total"] == 0)
            #expect(values["gatherd_paused"] == 0)
            let lastFailure = try #require(values["gatherd_last_failure_timestamp_seconds"])
            #expect(abs(lastFailure - Date().timeIntervalSince1970) < 120)
            // Renamed into place: no temporary file is left beside it.
            #expect(!FileManager.default.fileExists(atPath: harness.spool + "/.metrics.prom.tmp"))
        }

        /// Paused (SPEC §3): `gatherd_paused` 1 and the waiting files in
        /// `gatherd_incoming_files`; after resume the claim latency of each job
        /// counts from the rename seen, so it holds the pause.
        @Test func pausedAndTheClaimLatencyHoldTheWait() async throws {
            if let reason = try Self.parserMissing() {
                print("skipped: \(reason)")
                return
            }
            let harness = try DaemonHarness("metrics-paused")
            let metrics = harness.spool + "/metrics.prom"
            let paused = harness.spool + "/paused"
            _ = FileManager.default.createFile(atPath: paused, contents: nil)
            let daemon = try harness.startNiced(["--metrics-file", metrics, "--log-target", "stderr"])
            defer { daemon.kill(SIGKILL) }
            let ids = try (0..<3).map { try harness.drop(harness.id("wait\($0)"), #"{"tasks": [{"name": "t", "command": ["true"]}]}"#) }

            func current() async throws -> [String: Double]? {
                guard FileManager.default.fileExists(atPath: metrics) else { return nil }
                return try await offPool { try Self.values(metrics) }
            }
            func waitFor(_ what: String, _ condition: ([String: Double]) -> Bool) async throws -> [String: Double] {
                let deadline = ContinuousClock.now + .seconds(30)
                while ContinuousClock.now < deadline {
                    if let values = try await current(), condition(values) { return values }
                    try await Task.sleep(for: .milliseconds(200))
                }
                throw FixtureError(what: what, output: "\(try await current() ?? [:])\n\(daemon.stderr)")
            }
            let whilePaused = try await waitFor("paused with 3 files waiting") {
                $0["gatherd_paused"] == 1 && $0["gatherd_incoming_files"] == 3
            }
            #expect(whilePaused["gatherd_jobs_total{state=succeeded}"] == 0)
            #expect(whilePaused["gatherd_claim_seconds_count"] == 0)
            try await Task.sleep(for: .seconds(1.5))
            for id in ids { #expect(FileManager.default.fileExists(atPath: "\(harness.spool)/incoming/\(id).json")) }

            #expect(unlink(paused) == 0)
            let after = try await waitFor("resumed and 3 jobs done") {
                $0["gatherd_paused"] == 0 && $0["gatherd_jobs_total{state=succeeded}"] == 3
            }
            #expect(after["gatherd_incoming_files"] == 0)
            #expect(after["gatherd_claim_seconds_count"] == 3)
            // Each waited 1.5 s at least: none in the buckets up to 1 s, the sum at least 4.5 s.
            #expect((after["gatherd_claim_seconds_bucket{le=1}"] ?? after["gatherd_claim_seconds_bucket{le=1.0}"]) == 0, "\(after.filter { $0.key.hasPrefix("gatherd_claim") })")
            #expect((after["gatherd_claim_seconds_sum"] ?? 0) >= 4.5)
            #expect((after["gatherd_claim_seconds_sum"] ?? .infinity) < 120)
        }

        @Test func neverSeenHalfWrittenWhileAThousandJobsRun() async throws {
            if let reason = try Self.parserMissing() {
                print("skipped: \(reason)")
                return
            }
            let harness = try DaemonHarness("metrics-reader")
            let metrics = harness.spool + "/metrics.prom"
            let stop = harness.spool + "/stop-reading"
            let count = 1000
            // Short sleeps, so the jobs run over several seconds of writes.
            try await offPool {
                for index in 0..<count {
                    try harness.drop(harness.id(String(format: "j%04d", index)), #"{"tasks": [{"name": "t", "command": ["sleep", "0.05"]}]}"#)
                }
            }
            // Reads and parses in a loop from before the daemon starts to after it exits.
            async let reader = offPool { try Run.command(["/usr/bin/python3", Self.script, "watch", metrics, stop]) }
            let daemon = try await harness.runToIdle(["--metrics-file", metrics, "--max-jobs", "64", "--log-target", "stderr"], limit: .seconds(150))
            _ = FileManager.default.createFile(atPath: stop, contents: nil)
            let read = try await reader
            #expect(read.status == 0, "\(read.output)")
            #expect(daemon.process.terminationStatus == 0)
            print("metrics reader: \(read.stdoutText)")
            let seen = try JSONDecoder().decode([String: Int].self, from: read.stdout)
            #expect(seen["reads", default: 0] > 100)
            #expect(seen["versions", default: 0] >= 2)
            let values = try await offPool { try Self.values(metrics) }
            #expect(values["gatherd_jobs_total{state=succeeded}"] == Double(count))
            #expect(values["gatherd_tasks_total{outcome=succeeded}"] == Double(count))
            #expect(values["gatherd_claim_seconds_count"] == Double(count))
        }
    }
}
