import GatherSystem
import CLinux
import CSpawn
import Dispatch
import Glibc
import Synchronization

/// Reaps orphans reparented to this process (a child subreaper, SPEC §9),
/// and never the launcher's own children.
///
/// `execve` resets every task's exit signal to SIGCHLD, so a plain
/// `waitid(P_ALL)` would take the launcher's children too and their exit
/// status would be lost to the exit watcher. The reaper therefore peeks at an
/// exited child (`WNOWAIT`) and reaps it only if the launcher did not start it.
///
/// A spawn holds no lock while it runs (the clone waits for the child's
/// `exec`): it counts itself in flight and registers its pid when it returns,
/// and a sweep that finds a spawn in flight stops and is made again once the
/// last one has registered, so no task can exit unregistered and be taken for
/// an orphan. A sweep stopped by one of the launcher's own exited children is
/// made again when the exit watcher has reaped that child, not after every reap.
enum OrphanReaper {
    private struct State {
        var source: (any DispatchSourceSignal)?
        /// Children the launcher started and its exit watcher still has to reap.
        var own: Set<pid_t> = []
        /// Spawns between `clone` and their registration.
        var inFlight = 0
        /// A sweep stopped for a spawn in flight: made again when the last one registers.
        var sweepOwed = false
        /// The own child a sweep stopped at: made again when it is reaped.
        var blockedBy: pid_t = 0
        var active: Bool { source != nil }
    }
    private static let state = Mutex(State())
    private static let queue = DispatchQueue(label: "gatherd.orphan-reaper")

    static func start() throws(SystemCallError) {
        try state.withLock { state throws(SystemCallError) in
            guard state.source == nil else { return }
            _ = try SystemCall.call("prctl(PR_SET_CHILD_SUBREAPER)") { clinux_set_child_subreaper() }.get()
            // libdispatch installs the process's SIGCHLD handler; the event
            // arrives on its queue, coalesced, so one sweep reaps them all.
            let signal = DispatchSource.makeSignalSource(signal: SIGCHLD, queue: queue)
            signal.setEventHandler { sweep() }
            signal.resume()
            state.source = signal
        }
        queue.async { sweep() }
    }

    /// Runs a spawn, counted in flight while the reaper is active, and
    /// registers the new child's pid (the spawn returns it, or nil when it failed).
    static func spawning(_ spawn: () -> pid_t?) {
        let active = state.withLock { state in
            if state.active { state.inFlight += 1 }
            return state.active
        }
        let pid = spawn()
        guard active else { return }
        let sweepNow = state.withLock { state in
            if let pid { state.own.insert(pid) }
            state.inFlight -= 1
            guard state.inFlight == 0, state.sweepOwed else { return false }
            state.sweepOwed = false
            return true
        }
        if sweepNow { queue.async { sweep() } }
    }

    /// The exit watcher reaped `pid`: orphans that exited behind it can go now.
    static func reaped(_ pid: pid_t) {
        let sweepNow = state.withLock { state in
            state.own.remove(pid)
            guard state.active, state.blockedBy == pid else { return false }
            state.blockedBy = 0
            return true
        }
        if sweepNow { queue.async { sweep() } }
    }

    private static func sweep() {
        state.withLock { state in
            guard state.inFlight == 0 else {
                state.sweepOwed = true
                return
            }
            while true {
                let pid = cspawn_peek_exited()
                guard pid > 0 else { return }
                // The launcher's own child: its exit watcher reaps it and calls
                // `reaped`, which sweeps again for anything behind it.
                if state.own.contains(pid) {
                    state.blockedBy = pid
                    return
                }
                _ = cspawn_reap_pid(pid)
            }
        }
    }
}
