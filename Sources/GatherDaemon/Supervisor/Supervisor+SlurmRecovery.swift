import GatherJournal
import GatherSpool

extension Supervisor {
    /// The Slurm jobs a crashed run started, by job: those its `state.json`
    /// and `state.log` kept, and those whose IDs it never learned — an
    /// attempt killed with gatherd in its first moments, before the poller saw
    /// it; under the unit (`KillMode=mixed`) its `srun` was killed too, so
    /// only `scancel` ends such a job. They are found with `squeue` by the
    /// job's Slurm job names and kept only when their comment carries the
    /// crashed run's ID (`gatherd:RUN:INDEX:ATTEMPT`): never by name alone,
    /// which another gatherd with the same job ID may share.
    func slurmJobsOfCrashedRuns(_ report: RecoveryReport) -> [String: [JobStateFile.SlurmJob]] {
        var jobs = report.slurmJobs
        guard !report.slurmRuns.isEmpty else { return jobs }
        guard let slurm, let tools = slurm.tools else {
            journal.log(.daemonNotice(
                "cannot look for the Slurm jobs previous runs left: no squeue next to srun in PATH", warning: true))
            return jobs
        }
        // One search for every run, in slices of 200 names as the poller asks
        // (a job of 10,000 tasks is no single argument), before READY=1: each
        // slice may take the command limit, so systemd is told, and a Slurm
        // that does not answer is asked once, not once per job.
        let runs = Dictionary(report.slurmRuns.map { ("gatherd:\($0.run):", $0) }, uniquingKeysWith: { first, _ in first })
        let names = report.slurmRuns.flatMap { run in run.slurmTasks.map { Slurm.jobName(job: run.job, task: run.tasks[$0]) } }
        let slices = stride(from: 0, to: names.count, by: 200).map { Array(names[$0..<min($0 + 200, names.count)]) }
        _ = notifier.extendTimeout(Slurm.commandLimit * slices.count + .seconds(10))
        var known = Set(jobs.values.flatMap { $0.map(\.id) })
        for slice in slices {
            let result = slurm.commands.runBlocking(SlurmCommands.squeueArguments(tools, names: slice), limit: Slurm.commandLimit)
            guard result.succeeded else {
                journal.log(.daemonNotice(
                    "cannot look for the Slurm jobs previous runs left (squeue: \(result.problem)); "
                        + "their IDs not learned before the crash are not cancelled", warning: true))
                break
            }
            for (comment, id) in SlurmCommands.parseSqueue(result.stdout) where !known.contains(id) {
                // gatherd:RUN:INDEX:ATTEMPT, of one of the crashed runs.
                let parts = comment.split(separator: ":", omittingEmptySubsequences: false)
                guard parts.count == 4, parts[0] == "gatherd", let run = runs["gatherd:\(parts[1]):"], let index = Int(parts[2]),
                      run.tasks.indices.contains(index), let attempt = Int(parts[3]) else { continue }
                jobs[run.job, default: []].append(JobStateFile.SlurmJob(task: run.tasks[index], attempt: attempt, id: id))
                known.insert(id)
            }
        }
        return jobs
    }
}
