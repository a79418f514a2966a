import Gather
import GatherSystem

/// The Prometheus text exposition format (version 0.0.4) of ``MetricsValues``:
/// each family with its `# HELP` and `# TYPE` lines, every final state and
/// task outcome listed even at 0 (so a rate over them starts at the first
/// scrape, not at the first such job).
enum MetricsText {
    static func render(_ values: MetricsValues) -> [UInt8] {
        var text = ByteWriter(capacity: 4096)
        family(&text, "gatherd_jobs_total", "counter", "Jobs that reached a final state, by state.")
        for state in JobState.allCases {
            sample(&text, "gatherd_jobs_total", label: ("state", state.rawValue), values.jobs[state, default: 0])
        }
        family(&text, "gatherd_tasks_total", "counter", "Tasks that ended, by outcome (after their last attempt).")
        for outcome in TaskOutcome.allCases {
            sample(&text, "gatherd_tasks_total", label: ("outcome", outcome.rawValue), values.tasks[outcome, default: 0])
        }
        gauge(&text, "gatherd_jobs_running", "Jobs running now.", values.jobsRunning)
        gauge(&text, "gatherd_tasks_running", "Task processes running now.", values.tasksRunning)
        gauge(&text, "gatherd_jobs_queued", "Claimed jobs waiting for a start (--max-jobs, per-user limits).", values.jobsQueued)
        gauge(&text, "gatherd_incoming_files", "Job files waiting in incoming/ to be claimed.", values.incomingFiles)
        family(&text, "gatherd_spool_write_errors_total", "counter", "Spool writes that failed; claiming pauses while one lasts.")
        sample(&text, "gatherd_spool_write_errors_total", values.spoolWriteErrors)
        gauge(&text, "gatherd_spool_write_error", "1 while a spool write error holds claiming.", values.spoolWriteErrorNow ? 1 : 0)
        family(&text, "gatherd_last_failure_timestamp_seconds", "gauge", "When the last job ended failed (Unix time); 0 if none has.")
        sample(&text, "gatherd_last_failure_timestamp_seconds", values.lastFailure)
        gauge(&text, "gatherd_paused", "1 while the spool's paused file holds claiming.", values.paused ? 1 : 0)
        histogram(&text, "gatherd_claim_seconds", "From a job file seen in incoming/ to its first task started.", values.claimLatency)
        return text.bytes
    }

    private static func family(_ text: inout ByteWriter, _ name: String, _ type: StaticString, _ help: StaticString) {
        text.append("# HELP ")
        text.append(utf8: name)
        text.append(" ")
        text.append(help)
        text.append("\n# TYPE ")
        text.append(utf8: name)
        text.append(" ")
        text.append(type)
        text.append("\n")
    }

    private static func gauge(_ text: inout ByteWriter, _ name: String, _ help: StaticString, _ value: Int) {
        family(&text, name, "gauge", help)
        sample(&text, name, value)
    }

    private static func sample(_ text: inout ByteWriter, _ name: String, label: (String, String)? = nil, _ value: Int) {
        head(&text, name, label: label)
        text.append(decimal: Int64(value))
        text.append("\n")
    }

    private static func sample(_ text: inout ByteWriter, _ name: String, label: (String, String)? = nil, _ value: Double) {
        head(&text, name, label: label)
        text.append(utf8: number(value))
        text.append("\n")
    }

    /// The name and label; the values here are fixed words (states, outcomes,
    /// bounds), never user text, so none needs escaping.
    private static func head(_ text: inout ByteWriter, _ name: String, label: (String, String)?) {
        text.append(utf8: name)
        if let (key, value) = label {
            text.append("{")
            text.append(utf8: key)
            text.append("=\"")
            text.append(utf8: value)
            text.append("\"}")
        }
        text.append(" ")
    }

    private static func histogram(_ text: inout ByteWriter, _ name: String, _ help: StaticString, _ histogram: Histogram) {
        family(&text, name, "histogram", help)
        var cumulative = 0
        for (bound, count) in zip(histogram.bounds, histogram.buckets) {
            cumulative += count
            sample(&text, name + "_bucket", label: ("le", number(bound)), cumulative)
        }
        sample(&text, name + "_bucket", label: ("le", "+Inf"), histogram.count)
        sample(&text, name + "_sum", histogram.sum)
        sample(&text, name + "_count", histogram.count)
    }

    /// A float as Prometheus writes one: whole numbers without `.0` (`le="1"`).
    static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}
