import ArgumentParser
import GatherSpool
#if canImport(Glibc)
import Glibc
#endif

/// Shell completion of a job ID (`gatherctl show <TAB>`): the shell runs
/// gatherctl to ask, and it lists the IDs in the spool the command line
/// names (`--spool`, else `$GATHER_SPOOL`, else the default) that the caller
/// may see.
enum JobIDCompletion {
    /// IDs of jobs waiting, claimed or finished (`show`, `logs`).
    static let anyJob = CompletionKind.custom { words, _, prefix in
        candidates(words: words, prefix: prefix, areas: [.incoming, .active, .done, .failed, .rejected])
    }

    /// IDs of jobs that can still be cancelled (`cancel`).
    static let unfinishedJob = CompletionKind.custom { words, _, prefix in
        candidates(words: words, prefix: prefix, areas: [.incoming, .active])
    }

    /// The IDs in `areas` that start with `prefix`, sorted, without repeats.
    static func candidates(words: [String], prefix: String, areas: [SpoolReader.Area]) -> [String] {
        guard let reader = try? SpoolReader(path: spool(in: words)) else { return [] }
        var ids = Set<String>()
        for area in areas {
            for name in (try? reader.ids(in: area)) ?? [] {
                // incoming/ holds files: ID.json.
                let id = area == .incoming ? (name.hasSuffix(".json") ? String(name.dropLast(5)) : "") : name
                if !id.isEmpty, id.hasPrefix(prefix) { ids.insert(id) }
            }
        }
        return ids.sorted()
    }

    /// The spool the command line being completed names.
    static func spool(in words: [String]) -> String {
        for (index, word) in words.enumerated() {
            if word.hasPrefix("--spool="), word.count > 8 { return String(word.dropFirst(8)) }
            if word == "--spool", index + 1 < words.count, !words[index + 1].isEmpty { return words[index + 1] }
        }
        if let value = getenv("GATHER_SPOOL"), value.pointee != 0 { return String(cString: value) }
        return CtlOptions.defaultSpool
    }
}
