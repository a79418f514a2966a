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
        guard !report.slurmRuns.isEmpty, let slurm, let tools = slurm.tools else { return jobs }
        for run in report.slurmRuns {
            var known = Set((jobs[run.job] ?? []).map(\.id))
            let names = run.slurmTasks.map { Slurm.jobName(job: run.job, task: run.tasks[$0]) }
            let prefix = "gatherd:\(run.run):"
            // In slices, as the poller asks: a job of 10,000 tasks is no single argument.
            for start in stride(from: 0, to: names.count, by: 200) {
                let slice = Array(names[start..<min(start + 200, names.count)])
                let result = slurm.commands.runBlocking(
                    SlurmCommands.squeueArguments(tools, names: slice), limit: .seconds(10))
                guard result.succeeded else {
                    journal.log(.daemonNotice(
                        "job \(run.job): cannot look for the Slurm jobs a previous run left (squeue: \(result.problem))",
                        warning: true))
                    continue
                }
                for (comment, id) in SlurmCommands.parseSqueue(result.stdout)
                where comment.hasPrefix(prefix) && !known.contains(id) {
                    // gatherd:RUN:INDEX:ATTEMPT
                    let parts = comment.dropFirst(prefix.count).split(separator: ":")
                    guard parts.count == 2, let index = Int(parts[0]), run.tasks.indices.contains(index),
                          let attempt = Int(parts[1]) else { continue }
                    jobs[run.job, default: []].append(JobStateFile.SlurmJob(task: run.tasks[index], attempt: attempt, id: id))
                    known.insert(id)
                }
            }
        }
        return jobs
    }
}
