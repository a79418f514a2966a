/// Checks the names and `after` lists of a group before anything runs:
/// duplicate names, unknown names, a task waiting for itself, and cycles.
/// The job-file validator and the engine share it.
public enum DependencyGraph {
    /// One problem, located by task index (and index within `after`).
    public enum Problem: Sendable, Hashable, CustomStringConvertible {
        /// `tasks[index]` has the same name as an earlier task.
        case duplicateName(index: Int, name: String)
        /// `tasks[index].after[position]` names no task of the group.
        case unknownName(index: Int, position: Int, name: String)
        /// `tasks[index].after[position]` names the task itself.
        case selfReference(index: Int, position: Int)
        /// The tasks form a cycle; `path` lists the names around it, first repeated last.
        case cycle(index: Int, path: [String])
        /// `tasks[index].after[position]` names a clean-up (`finally`) task,
        /// which starts only after every other task ended: nothing can wait for it.
        case namesFinallyTask(index: Int, position: Int, name: String)

        /// The problem in words, e.g. `unknown task "zz"`.
        public var description: String {
            switch self {
            case .duplicateName(_, let name): return "duplicate task name \"\(name)\""
            case .unknownName(_, _, let name): return "unknown task \"\(name)\""
            case .selfReference: return "a task cannot wait for itself"
            case .cycle(_, let path): return "dependency cycle: " + path.joined(separator: " -> ")
            case .namesFinallyTask(_, _, let name): return "\"\(name)\" is a finally task, which no task can wait for"
            }
        }
    }

    /// All problems of the graph, in task order; empty when it is sound.
    /// - Parameters:
    ///   - names: task names in order.
    ///   - after: for each task, the names it waits for.
    ///   - isFinally: for each task, whether it is a clean-up task; empty when none is.
    public static func problems(names: [String], after: [[String]], isFinally: [Bool] = []) -> [Problem] {
        var problems: [Problem] = []
        for i in DuplicateNames.positions(in: names) {
            problems.append(.duplicateName(index: i, name: names[i]))
        }
        // The common case, no dependencies at all, needs no graph.
        guard after.contains(where: { !$0.isEmpty }) else { return problems }
        var index: [String: Int] = [:]
        index.reserveCapacity(names.count)
        for (i, name) in names.enumerated().reversed() { index[name] = i }  // first occurrence wins
        var edges: [[Int]] = Array(repeating: [], count: names.count)
        for (i, deps) in after.enumerated() where i < names.count {
            for (p, dep) in deps.enumerated() {
                guard let j = index[dep] else {
                    problems.append(.unknownName(index: i, position: p, name: dep))
                    continue
                }
                if j == i {
                    problems.append(.selfReference(index: i, position: p))
                } else if j < isFinally.count, isFinally[j] {
                    problems.append(.namesFinallyTask(index: i, position: p, name: dep))
                } else {
                    edges[i].append(j)
                }
            }
        }
        // Iterative DFS (a 10,000-task chain must not overflow the stack); each
        // cycle is reported once, at the task where it was closed.
        var color = [UInt8](repeating: 0, count: names.count)  // 0 new, 1 on stack, 2 done
        for root in names.indices where color[root] == 0 {
            var stack: [(node: Int, next: Int)] = [(root, 0)]
            color[root] = 1
            while let top = stack.last {
                if top.next < edges[top.node].count {
                    stack[stack.count - 1].next += 1
                    let target = edges[top.node][top.next]
                    if color[target] == 0 {
                        color[target] = 1
                        stack.append((target, 0))
                    } else if color[target] == 1 {
                        let start = stack.firstIndex { $0.node == target } ?? 0
                        let path = stack[start...].map { names[$0.node] } + [names[target]]
                        problems.append(.cycle(index: top.node, path: path))
                    }
                } else {
                    color[top.node] = 2
                    stack.removeLast()
                }
            }
        }
        return problems
    }
}
