import GatherSpool
import Testing
@testable import GatherDaemon

/// The `srun` argv of an `executor: slurm` attempt (SPEC §12, docs/slurm.md),
/// the `squeue` lines the ID poller reads, and the tool lookup. No cluster needed.
@Suite struct SlurmArgumentsTests {
    @Test func plainAttemptHasNameTasksCommentChdirExportAndTheCommandAfterDashes() {
        let argv = SlurmExecutor.arguments(
            srun: "/usr/bin/srun", name: "gatherd/nightly/dump", comment: "gatherd:abc:0:1",
            options: JobFile.SlurmOptions(), timeout: nil, killGrace: .seconds(5), cwd: "/srv",
            command: ["pg_dump", "--file", "-"])
        #expect(argv == ["/usr/bin/srun", "--job-name=gatherd/nightly/dump", "--ntasks=1", "--comment=gatherd:abc:0:1",
                         "--chdir=/srv", "--export=ALL", "--quiet", "--", "pg_dump", "--file", "-"])
    }

    @Test func everyOptionAndTheTimeBackstop() {
        var options = JobFile.SlurmOptions()
        options.partition = "batch"
        options.account = "ops"
        options.qos = "low"
        options.constraint = "ssd&avx2"
        options.cpusPerTask = 4
        options.mem = (1 << 30) + 1  // a byte over 1 GiB: rounded up to whole MiB
        options.timeMin = .seconds(61)
        // timeout 10m + kill_grace 5s: 11 whole minutes.
        let argv = SlurmExecutor.arguments(
            srun: "srun", name: "gatherd/j/t", comment: "c", options: options, timeout: .seconds(600),
            killGrace: .seconds(5), cwd: "/", command: ["x"])
        #expect(argv == ["srun", "--job-name=gatherd/j/t", "--ntasks=1", "--comment=c", "--partition=batch",
                         "--account=ops", "--qos=low", "--constraint=ssd&avx2", "--cpus-per-task=4", "--mem=1025M",
                         "--time-min=2", "--time=11", "--chdir=/", "--export=ALL", "--quiet", "--", "x"])
    }

    @Test(arguments: [(Duration.milliseconds(1), Int64(1)), (.seconds(60), 1), (.milliseconds(60_001), 2),
                      (.seconds(3600), 60), (.seconds(5), 1)])
    func wholeMinutesRoundUpAndAreAtLeastOne(_ duration: Duration, _ minutes: Int64) {
        #expect(SlurmExecutor.wholeMinutes(duration) == minutes)
    }

    @Test func squeueLinesGiveCommentToID() {
        let ids = SlurmCommands.parseSqueue(["41|gatherd:r:0:1", "42|gatherd:r:1:1", "garbage", "x|y", "43|"])
        #expect(ids == ["gatherd:r:0:1": 41, "gatherd:r:1:1": 42, "": 43])
        #expect(Slurm.comment(run: "r", index: 2, attempt: 3) == "gatherd:r:2:3")
        #expect(Slurm.jobName(job: "nightly", task: "dump") == "gatherd/nightly/dump")
    }

    @Test func noSrunInPathIsSaidWithThePath() {
        #expect(SlurmTools.find(path: "/nonexistent:/also-not") == .failure(SlurmUnavailable("srun not found in PATH (/nonexistent:/also-not)")))
    }
}
