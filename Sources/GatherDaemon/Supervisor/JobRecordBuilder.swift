import Gather
import GatherProcess
import GatherSpool
import GatherSystem

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Turns what the engine gathered into the result record (SPEC §6).
enum JobRecordBuilder {
    /// The record of a job that ran.
    /// - Parameters:
    ///   - progress: the exits seen as they happened: a task stopped by Swift
    ///     cancellation alone has no exit in `results`, but its usage counts.
    ///   - usage: what the job's cgroup used (SPEC §6); nil without cgroups.
    static func record(
        _ job: ClaimedJob, run: String, startedAt: Timestamp, results: GatheredResults<ProcessExit>,
        progress: JobProgress? = nil, usage: CgroupUsage? = nil
    ) -> JobRecord {
        let entries = zip(results.tasks, results.lastAttempts).map { task, last -> JobRecord.TaskEntry in
            let exit = processExit(of: last)
            let seen = exit ?? progress?.exit(of: task.name, attempt: task.attempts)
            return JobRecord.TaskEntry(
                name: task.name, outcome: task.outcome, reason: task.reason?.description,
                exitStatus: exit?.status.exitCode, signal: exit?.status.signalName, attempts: task.attempts,
                startedAt: task.startedAt.map(timestamp), durationMS: task.duration?.gatherMilliseconds,
                usage: task.attempts > 0 ? seen?.usage : nil,
                stderr: task.outcome.isError ? exit?.stderrTail ?? [] : [],
                slurmJob: task.attempts > 0 ? seen?.executorJob : nil)
        }
        let state = results.state
        return JobRecord(
            id: job.id, run: run, name: job.job.displayName(id: job.id), file: job.state.file, state: state,
            policy: job.job.policy, uid: job.state.uid, gid: job.state.gid, user: job.owner?.name,
            runAs: job.runAs.name, receivedAt: job.state.receivedAt, startedAt: startedAt, finishedAt: .now(),
            usage: usage, error: state == .failed ? results.compoundError?.description : nil, tasks: entries)
    }

    /// The record of a job that could not be run as given (the engine refused it).
    /// - Parameter error: the compound error the journal's `jobFailed` entry
    ///   shows too, so both say the same line.
    static func unrunnable(_ job: ClaimedJob, run: String, startedAt: Timestamp, error: CompoundError) -> JobRecord {
        JobRecord(
            id: job.id, run: run, name: job.job.displayName(id: job.id), file: job.state.file, state: .failed,
            policy: job.job.policy, uid: job.state.uid, gid: job.state.gid, user: job.owner?.name,
            runAs: job.runAs.name, receivedAt: job.state.receivedAt, startedAt: startedAt, finishedAt: .now(),
            error: error.description,
            tasks: job.job.tasks.map { .init(name: $0.name, outcome: .skipped, reason: "job failing", attempts: 0) })
    }

    /// The record of a job cancelled before it started: every task skipped.
    static func cancelledBeforeStart(_ job: ClaimedJob, run: String) -> JobRecord {
        JobRecord(
            id: job.id, run: run, name: job.job.displayName(id: job.id), file: job.state.file, state: .cancelled,
            policy: job.job.policy, uid: job.state.uid, gid: job.state.gid, user: job.owner?.name,
            runAs: job.runAs.name, receivedAt: job.state.receivedAt, startedAt: nil, finishedAt: .now(),
            error: nil,
            tasks: job.job.tasks.map {
                .init(name: $0.name, outcome: .skipped, reason: TaskReason.cancelledByRequest.description, attempts: 0)
            })
    }

    /// What `waitpid` saw for an attempt, whether it succeeded, failed or was stopped.
    private static func processExit(of result: Result<ProcessExit, any Error>?) -> ProcessExit? {
        switch result {
        case .success(let exit)?: return exit
        case .failure(let error as ProcessTaskError)?: return error.exit
        default: return nil
        }
    }

    private static func timestamp(_ date: Date) -> Timestamp {
        Timestamp(millisecondsSinceEpoch: Int64((date.timeIntervalSince1970 * 1000).rounded(.down)))
    }
}
