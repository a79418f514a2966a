import GatherSpool

/// "Did you mean" for a mistyped key: an `unknown key` problem of the
/// validator gets the nearest key of the job-key table (SPEC §4) in its
/// scope, when one is near enough to be the key meant.
enum KeySuggestion {
    /// The problem as `validate` prints it: `tasks[0].comand: unknown key (did you mean "command"?)`.
    static func line(_ problem: JobFileProblem) -> String {
        guard problem.message == "unknown key", let key = suggestion(forPath: problem.path) else { return problem.description }
        return "\(problem.description) (did you mean \"\(key)\"?)"
    }

    /// The key meant at `path` (`comand` at the top, or `tasks[N].comand`), if any is near.
    static func suggestion(forPath path: String) -> String? {
        var scope = JobKey.Scope.job
        var key = Substring(path)
        if path.hasPrefix("tasks["), let close = path.firstIndex(of: "]"), path[close...].hasPrefix("].") {
            scope = .task
            key = path[path.index(close, offsetBy: 2)...]
        }
        var names = JobKeyTable.keys(in: scope).map(\.name)
        // A key of a `slurm` object (`slurm.cpu_per_task`, `tasks[1].slurm.qso`).
        if key.hasPrefix("slurm.") {
            key = key.dropFirst("slurm.".count)
            names = JobKeyTable.slurmKeys.map(\.name)
        }
        guard !key.isEmpty else { return nil }
        let typed = Array(key.lowercased().utf8)
        // At most 2 edits, and fewer than half the key: "id" is no typo of "env".
        let limit = min(2, (typed.count - 1) / 2)
        let ranked = names
            .map { (name: $0, distance: distance(typed, Array($0.utf8))) }
            .filter { $0.distance <= limit }
            .min { $0.distance < $1.distance }
        return ranked?.name
    }

    /// Edits (insert, delete, substitute, swap two neighbours) from `a` to `b`.
    static func distance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var table = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { table[i][0] = i }
        for j in 0...b.count { table[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var best = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { best = min(best, table[i - 2][j - 2] + 1) }
                table[i][j] = best
            }
        }
        return table[a.count][b.count]
    }
}
