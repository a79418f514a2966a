// swift-tools-version:6.0
import PackageDescription

// Layout: the policy engine (`Gather`) knows nothing of the OS; the daemon's
// parts are libraries (`GatherProcess`, `GatherJournal`, `GatherSpool`) that the
// thin executables wire together. C lives in three small targets: `CSystemd`
// (the only place that touches libsystemd), `CLinux` (GNU-only calls Swift's
// Glibc module does not export) and `CSpawn` (the child side of fork…exec).
let package = Package(
    name: "gatherd",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Gather", targets: ["Gather"]),
        .executable(name: "gatherd", targets: ["gatherd"]),
        .executable(name: "gatherctl", targets: ["gatherctl"]),
    ],
    targets: [
        // Policy engine: gather-style structured concurrency over async closures.
        .target(name: "Gather"),

        // libsystemd through pkg-config; shim.h wraps what Swift cannot call directly.
        .systemLibrary(
            name: "CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),
        // Linux calls declared only under _GNU_SOURCE (renameat2, pipe2, pidfd_open…).
        .target(name: "CLinux"),
        // Async-signal-safe child side of the process launcher.
        .target(name: "CSpawn"),

        .target(name: "GatherProcess", dependencies: ["Gather", "CLinux", "CSpawn"]),
        .target(name: "GatherJournal", dependencies: ["Gather", "CSystemd"]),
        .target(name: "GatherSpool", dependencies: ["Gather", "CLinux"]),
        // The daemon's parts: event sources (spool watcher, signals), later the supervisor.
        .target(name: "GatherDaemon", dependencies: ["Gather", "GatherProcess", "GatherJournal", "GatherSpool", "CLinux"]),

        // The user's command line: submit, validate, status, show, cancel, logs.
        .target(name: "GatherCtl", dependencies: ["GatherSpool", "GatherJournal", "Gather", "CLinux"]),

        // The executables: argument parsing and wiring only.
        .executableTarget(name: "gatherd", dependencies: ["GatherDaemon"]),
        .executableTarget(name: "gatherctl", dependencies: ["GatherCtl"]),

        // Benchmarks: executables that print figures (scripts/bench.sh runs them).
        .executableTarget(name: "gather-bench", dependencies: ["Gather"], path: "Benchmarks/gather-bench"),
        .executableTarget(name: "watch-bench", dependencies: ["GatherDaemon"], path: "Benchmarks/watch-bench"),
        // The process launcher against a C posix_spawn + wait loop (CSpawnLoop).
        .executableTarget(name: "spawn-bench", dependencies: ["GatherProcess", "CSpawnLoop"], path: "Benchmarks/spawn-bench"),
        .target(name: "CSpawnLoop", path: "Benchmarks/CSpawnLoop"),
        .executableTarget(name: "journal-bench", dependencies: ["GatherJournal", "Gather"], path: "Benchmarks/journal-bench"),

        // Test fixtures shared by test targets: a real journald, a notify socket.
        .target(name: "GatherTestSupport", path: "Tests/GatherTestSupport"),
        // Writes through JournalWriter in a private mount namespace (no or stale journal socket).
        .executableTarget(name: "journal-probe", dependencies: ["GatherJournal"], path: "Tests/journal-probe"),

        .testTarget(name: "GatherTests", dependencies: ["Gather"]),
        .testTarget(name: "GatherProcessTests", dependencies: ["GatherProcess", "Gather", "gather-process-helper"]),
        // Runs process-wide checks (signal state, memory, subreaper) outside the shared test process.
        .executableTarget(name: "gather-process-helper", dependencies: ["GatherProcess"], path: "Tests/GatherProcessHelper"),
        .testTarget(
            name: "GatherJournalTests",
            dependencies: ["GatherJournal", "Gather", "GatherTestSupport", "journal-probe"]
        ),
        // Runs spool scenarios that need a process of their own (a private mount namespace).
        .executableTarget(name: "gather-spool-helper", dependencies: ["GatherSpool", "Gather"], path: "Tests/GatherSpoolHelper"),
        .testTarget(name: "GatherSpoolTests", dependencies: ["GatherSpool", "Gather", "gather-spool-helper"]),
        .testTarget(name: "GatherDaemonTests", dependencies: ["GatherDaemon", "CLinux", "GatherTestSupport", "gatherd"]),
        // Runs the real gatherctl binary, against the real gatherd where a daemon is needed.
        .testTarget(name: "GatherCtlTests", dependencies: ["GatherCtl", "GatherTestSupport", "gatherctl", "gatherd"]),
    ],
    swiftLanguageModes: [.v6]
)
