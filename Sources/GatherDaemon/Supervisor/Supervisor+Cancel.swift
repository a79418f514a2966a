import Gather
import GatherJournal
import GatherSpool

extension Supervisor {
    // MARK: Cancel requests

    func cancelRequest(_ name: SpoolEntryName) {
        guard name.isCancelRequest, let id = name.string else { return }
        guard let owner = spool.cancelRequestOwner(name.bytes) else { return }  // handled already
        let target: JobIdentity?
        if let job = jobs.running[id] {
            target = job.identity
        } else if let queued = jobs.waitingJob(id) {
            target = identity(of: queued.job, run: "")
        } else {
            target = nil
        }
        guard let target else {
            if owner.isRegularFile, spool.isWaitingInIncoming(id) {
                pendingCancels.insert(id)  // kept until the job is claimed (SPEC §3)
                return
            }
            // No longer waiting (withdrawn, or rejected when claimed): forget a request kept for it.
            pendingCancels.remove(id)
            removeCancelRequest(id)
            journal.log(.cancelRefused(unknownJob: id, requestOwner: owner.uid, reason: "no such job waiting or running"))
            return
        }
        removeCancelRequest(id)
        guard owner.isRegularFile else {
            journal.log(.cancelRefused(target, requestOwner: owner.uid, reason: "not a regular file"))
            return
        }
        guard owner.uid == target.uid || owner.uid == 0 else {
            journal.log(.cancelRefused(target, requestOwner: owner.uid))
            return
        }
        if let job = jobs.running[id] {
            job.control.cancel(.cancelledByRequest)
        } else {
            cancelQueued(id)
        }
    }

    /// Removes `cancel/ID` through the spool's directory descriptors, never
    /// following a link (a directory full of them included). A failure leaves
    /// it in place; a rescan finds it again.
    func removeCancelRequest(_ id: String) {
        _ = try? spool.removeCancelRequest(Array(id.utf8))
    }

    /// Cancels a job that was claimed but never started: all tasks skipped.
    func cancelQueued(_ id: String) {
        guard let job = jobs.removeWaiting(id)?.job else { return }
        let run = JobRecord.newRunID()
        let identity = identity(of: job, run: run)
        journal.log(.jobCancelled(identity, policy: job.job.policy))
        write(JobRecordBuilder.cancelledBeforeStart(job, run: run), identity: identity)
        updateStatus()
    }
}
