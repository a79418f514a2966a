import Gather
import GatherJournal
import GatherProcess
import GatherSpool
import GatherSystem
#if canImport(Glibc)
import Glibc
#endif

/// `gatherd` itself (SPEC §9): set-up, recovery, the first scan, `READY=1`,
/// then one task group that holds every event source and every running job
/// until SIGTERM/SIGINT (or `--exit-when-idle`) ends it.
public enum Daemon {
    /// Runs the daemon to its end and returns the process's exit status:
    /// 0 after a clean stop, 1 when it cannot start (unsafe spool, no inotify…).
    public static func run(_ configuration: DaemonConfiguration) async -> Int32 {
        let journal = JournalWriter(configuration: .init(
            target: configuration.logTarget,
            maxEventPriority: configuration.debug ? 7 : 6))
        defer { journal.close() }
        let notifier = SystemdNotifier()

        let signals: SignalEvents
        let spool: SpoolDirectory
        let watcher: SpoolWatcher
        let launcher: ProcessLauncher
        let executor: ThreadExecutor
        let cgroups: CgroupAvailability
        do {
            signals = try SignalEvents()
            try ProcessLauncher.raiseFileLimit()
            try ProcessLauncher.becomeSubreaper()
            launcher = try ProcessLauncher.shared
            spool = try SpoolDirectory(path: configuration.spool)
            try spool.lockForDaemon()
            // After the lock: a second daemon on this spool must not move
            // into the first one's subtree.
            cgroups = try CgroupTree.prepare(configuration.cgroup).get()
            executor = try ThreadExecutor(name: "gatherd-supervisor")
            // The watches exist before the first scan, so no file falls between them.
            watcher = try SpoolWatcher(incoming: spool.path + "/incoming", cancel: spool.path + "/cancel", spool: spool.path)
        } catch {
            StartupError.report("gatherd: cannot start: \(error)")
            return 1
        }

        // SPEC §11: one line saying what the host gives.
        journal.log(.daemonNotice(cgroups.startLine))

        let (starts, startsContinuation) = AsyncStream.makeStream(of: DaemonWork.self)
        let metrics = Metrics()
        let slurm = Slurm(launcher: launcher) { journal.log(.daemonNotice($0, warning: true)) }
        let supervisor = Supervisor(
            spool: spool, journal: journal, notifier: notifier, configuration: configuration, starts: startsContinuation,
            executor: executor, cgroups: cgroups, metrics: metrics, slurm: slurm)
        let runner = JobRunner(
            spool: spool, journal: journal, launcher: launcher, pool: TaskSlotPool(slots: configuration.maxTasks),
            configuration: configuration, daemonIsRoot: geteuid() == 0, cgroups: cgroups.tree, metrics: metrics,
            slurm: slurm)
        let metricsWriter = configuration.metricsFile.map {
            MetricsWriter(metrics: metrics, file: MetricsFile(path: $0), spool: spool, journal: journal)
        }
        let hooks = JobHooks(
            spool: spool, journal: journal, launcher: launcher, configuration: configuration, daemonIsRoot: geteuid() == 0,
            cgroups: cgroups.tree)

        let recovered = await supervisor.recover()
        do {
            try watcher.start()
        } catch {
            StartupError.report("gatherd: cannot watch the spool: \(error)")
            return 1
        }
        await supervisor.ready(recovered: recovered)

        // A discarding group: each job's child task is freed when it ends. A plain
        // task group keeps every finished child until `next()` takes it, and this
        // one never does, so it held some KB per job for the daemon's life.
        await withDiscardingTaskGroup { group in
            // The spool's events reach the supervisor on its own thread (the
            // executor preference): one hop from the watcher, none through the pool.
            group.addTask(executorPreference: executor) {
                // Never waits for the supervisor: what arrives while it is busy
                // is handled in one turn (Supervisor.post).
                for await event in watcher.events { supervisor.post(event) }
                // Without its watch (incoming/ or cancel/ deleted, moved, unmounted)
                // gatherd would run on and never see a dropped file again: stop as
                // for SIGTERM, and exit 1 so systemd restarts it (Restart=on-failure),
                // which checks and re-creates the spool directories.
                if let failure = watcher.failure {
                    StartupError.report("gatherd: \(failure); stopping")
                    await supervisor.handle(DaemonSignal.terminate)
                }
            }
            group.addTask(executorPreference: executor) {
                for await _ in supervisor.inboxWakeups { await supervisor.handleInbox() }
            }
            group.addTask {
                for await signal in signals.events { await supervisor.handle(signal) }
            }
            if let interval = notifier.watchdogInterval {
                group.addTask {
                    while (try? await Task.sleep(for: interval)) != nil { await supervisor.watchdogPing() }
                }
            }
            group.addTask {
                // STATUS= kept current (SPEC §9) as tasks start and end: one look a
                // second while jobs run rather than a message per task; an idle
                // daemon does not wake for it.
                for await _ in supervisor.busyWakeups {
                    repeat {
                        guard (try? await Task.sleep(for: .seconds(1))) != nil else { return }
                        await supervisor.updateStatus()
                    } while await supervisor.isBusy
                }
            }
            group.addTask {
                // Retries unwritten records every 10 s while a spool write error
                // lasts (SPEC §3); wakes only when one happens.
                for await _ in supervisor.retryWakeups {
                    repeat {
                        guard (try? await Task.sleep(for: .seconds(10))) != nil else { return }
                        await supervisor.maintain(retention: false)
                    } while await supervisor.isPaused
                }
            }
            if let metricsWriter {
                // --metrics-file (SPEC §9): written now, then at most once a
                // second while something changes; asleep while nothing does.
                group.addTask { await metricsWriter.run() }
            }
            if configuration.retain != nil {
                group.addTask {
                    // --retain: expired job directories go 10 s after the start, then hourly.
                    var wait = Duration.seconds(10)
                    while (try? await Task.sleep(for: wait)) != nil {
                        await supervisor.maintain(retention: true)
                        wait = .seconds(3600)
                    }
                }
            }
            for await work in starts {
                let start: JobStart
                switch work {
                case .job(let job):
                    start = job
                case .hooks(let recovered):
                    // A job recovery recorded: its hooks only, as below.
                    group.addTask {
                        if await recovered.recordMoved.wait() {
                            await hooks.run(
                                recovered.record, job: recovered.job, identity: recovered.identity,
                                killGrace: recovered.killGrace)
                        }
                        supervisor.post(.hooksEnded(id: recovered.record.id))
                    }
                    continue
                }
                group.addTask {
                    let end = await runner.run(start)
                    supervisor.post(.jobEnded(id: start.job.id, end))
                    // SPEC §11: the hooks, once the record is in its final place,
                    // on this child task: the supervisor never waits for them, and
                    // a stop (cancelAll below) ends them or keeps them from starting.
                    guard case .record(let record) = end,
                          JobHooks.wanted(record, job: start.job.job, configuration: configuration) else { return }
                    if await start.recordMoved.wait() { await hooks.run(record, start: start) }
                    supervisor.post(.hooksEnded(id: start.job.id))
                }
            }
            // The supervisor ends the stream once no job runs any more.
            watcher.stop()
            signals.stop()
            group.cancelAll()
        }
        // The last seals and moves of the last turn. Should that sync fail, the
        // exit status says so (recovery completes a lost move at the next start).
        var synced = true
        do throws(SpoolError) { try spool.commit() } catch {
            StartupError.report("gatherd: cannot sync the spool at exit: \(error.located)")
            synced = false
        }
        // The last jobs' ends, so the file does not stop a second short.
        if let metricsWriter {
            var failing: String?
            metricsWriter.write(&failing)
        }
        journal.flush()
        // The watch lost, not a stop asked for: exit 1 (see above).
        return watcher.failure == nil && synced ? 0 : 1
    }
}

/// Start-up failures go to stderr (systemd puts them in the journal) as one line.
enum StartupError {
    static func report(_ line: String) {
        let text = line + "\n"
        _ = text.withCString { write(2, $0, strlen($0)) }
    }
}
