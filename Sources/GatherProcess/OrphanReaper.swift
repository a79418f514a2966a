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
/// While the reaper is active, a spawn registers its pid under the same lock,
/// so no task can exit unregistered between `clone` and the registration.
enum OrphanReaper {
    private struct State {
        var source: (any DispatchSourceSignal)?
        /// Children the launcher started and its exit watcher still has to reap.
        var own: Set<pid_t> = []
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

    /// Runs a spawn; while the reaper is active, under its lock, recording the
    /// new child's pid (the spawn returns it, or nil when it failed).
    static func spawning(_ spawn: () -> pid_t?) {
        state.withLock { state in
            guard state.active else {
                _ = spawn()
                return
            }
            if let pid = spawn() { state.own.insert(pid) }
        }
    }

    /// The exit watcher reaped `pid`: orphans that exited behind it can go now.
    static func reaped(_ pid: pid_t) {
        let active = state.withLock { state in
            state.own.remove(pid)
            return state.active
        }
        if active { queue.async { sweep() } }
    }

    private static func sweep() {
        state.withLock { state in
            while true {
                let pid = cspawn_peek_exited()
                guard pid > 0 else { return }
                // The launcher's own child: its exit watcher reaps it and calls
                // `reaped`, which sweeps again for anything behind it.
                if state.own.contains(pid) { return }
                _ = cspawn_reap_pid(pid)
            }
        }
    }
}
