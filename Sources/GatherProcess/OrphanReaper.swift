import CLinux
import CSpawn
import Dispatch
import Glibc
import Synchronization

/// Reaps orphans reparented to this process (a child subreaper, SPEC §9).
///
/// The launcher's own children report with no exit signal, so they never
/// wake this and are never taken from the exit watcher; orphans are
/// reparented with SIGCHLD as their exit signal and are reaped here, so no
/// descendant of a task is left a zombie.
enum OrphanReaper {
    private static let source = Mutex<(any DispatchSourceSignal)?>(nil)
    private static let queue = DispatchQueue(label: "gatherd.orphan-reaper")

    static func start() throws(SystemCallError) {
        try source.withLock { source throws(SystemCallError) in
            guard source == nil else { return }
            _ = try systemCall("prctl(PR_SET_CHILD_SUBREAPER)") { clinux_set_child_subreaper() }.get()
            // libdispatch installs the process's SIGCHLD handler; the event
            // arrives on its queue, coalesced, so one sweep reaps them all.
            let signal = DispatchSource.makeSignalSource(signal: SIGCHLD, queue: queue)
            signal.setEventHandler { _ = cspawn_reap_orphans() }
            signal.resume()
            source = signal
            queue.async { _ = cspawn_reap_orphans() }
        }
    }
}
