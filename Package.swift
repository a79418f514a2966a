// swift-tools-version:6.0
import PackageDescription

// Layout (docs/ARCHITECTURE.md draws the graph): the policy engine (`Gather`)
// knows nothing of the OS; `GatherSystem` is the one thin layer over the
// kernel every target that calls it uses; the daemon's parts are libraries
// (`GatherProcess`, `GatherJournal`, `GatherSpool`, `GatherDaemon`, and
// `GatherCLI` for the user's command line) that the thin executables wire
// together. C lives in three small targets: `CSystemd` (the only place that
// touches libsystemd), `CLinux` (GNU-only and unexported Linux calls, the
// signal handler) and `CSpawn` (the child side of clone…exec).
let gnuSource: [CSetting] = [.define("_GNU_SOURCE")]

let productTargets: [Target] = [
    // Policy engine: gather-style structured concurrency over async closures.
    .target(name: "Gather"),

    // libsystemd through pkg-config; shim.h wraps what Swift cannot call directly.
    .systemLibrary(
        name: "CSystemd",
        pkgConfig: "libsystemd",
        providers: [.apt(["libsystemd-dev"])]
    ),
    // Linux calls Swift's Glibc module does not declare (renameat2, pipe2, epoll…) and the signal handler.
    .target(name: "CLinux", cSettings: gnuSource),
    // Async-signal-safe child side of the process launcher.
    .target(name: "CSpawn", cSettings: gnuSource),
    // The one OS layer: the EINTR loop, Errno, threads, /proc, directory listing.
    .target(name: "GatherSystem", dependencies: ["CLinux"]),

    .target(name: "GatherProcess", dependencies: ["Gather", "GatherSystem", "CLinux", "CSpawn"]),
    .target(name: "GatherJournal", dependencies: ["Gather", "GatherSystem", "CSystemd"]),
    .target(name: "GatherSpool", dependencies: ["Gather", "GatherSystem", "CLinux"]),
    // The command-line conventions both executables share on swift-argument-parser:
    // help and --version on stdout, usage errors as `PROGRAM: …` with exit 2 (SPEC §10).
    .target(name: "GatherCommandLine", dependencies: [.product(name: "ArgumentParser", package: "swift-argument-parser")]),
    // The daemon's parts: event sources (spool watcher, signals) and the supervisor.
    .target(
        name: "GatherDaemon",
        dependencies: ["Gather", "GatherSystem", "GatherProcess", "GatherJournal", "GatherSpool", "CLinux", "GatherCommandLine",
                       .product(name: "ArgumentParser", package: "swift-argument-parser")]
    ),
    // The user's command line: submit, validate, status, show, cancel, logs.
    .target(
        name: "GatherCLI",
        dependencies: ["GatherSpool", "GatherJournal", "GatherSystem", "Gather", "CLinux", "GatherCommandLine",
                       .product(name: "ArgumentParser", package: "swift-argument-parser")]
    ),

    // The executables: argument parsing and wiring only.
    .executableTarget(name: "gatherd", dependencies: ["GatherDaemon"]),
    .executableTarget(name: "gatherctl", dependencies: ["GatherCLI"]),
]

// Benchmarks: executables that print figures (scripts/bench.sh runs them).
// They measure internal targets, so they live in this manifest, not a nested package.
let benchmarkTargets: [Target] = [
    .executableTarget(name: "gather-bench", dependencies: ["Gather"], path: "Benchmarks/gather-bench"),
    .executableTarget(name: "watch-bench", dependencies: ["GatherDaemon"], path: "Benchmarks/watch-bench"),
    // The process launcher against a C posix_spawn + wait loop (CSpawnLoop).
    .executableTarget(name: "spawn-bench", dependencies: ["GatherProcess", "CSpawnLoop"], path: "Benchmarks/spawn-bench"),
    .target(name: "CSpawnLoop", path: "Benchmarks/CSpawnLoop"),
    .executableTarget(name: "journal-bench", dependencies: ["GatherJournal", "Gather"], path: "Benchmarks/journal-bench"),
]

// Fault tools: executables the fault suite runs, and the engine they share
// with the tests (the job-file fuzzer's mutations and its invariants).
let faultToolTargets: [Target] = [
    .target(name: "GatherFuzz", dependencies: ["GatherSpool"], path: "Faults/GatherFuzz"),
    .executableTarget(name: "gather-fuzz", dependencies: ["GatherFuzz", "GatherSpool", "GatherSystem"], path: "Faults/gather-fuzz"),
]

// Tests mirror the targets; the helpers are fixtures some tests run as processes of their own.
let testTargets: [Target] = [
    // Shared fixtures: a real journald, a notify socket.
    .target(name: "GatherTestSupport", path: "Tests/GatherTestSupport"),
    // Writes through JournalWriter in a private mount namespace (no or stale journal socket).
    .executableTarget(name: "journal-probe", dependencies: ["GatherJournal", "GatherSystem"], path: "Tests/journal-probe"),
    // Runs process-wide checks (signal state, memory, subreaper) outside the shared test process.
    .executableTarget(name: "gather-process-helper", dependencies: ["GatherProcess"], path: "Tests/GatherProcessHelper"),
    // Runs spool scenarios that need a process of their own (a private mount namespace).
    .executableTarget(name: "gather-spool-helper", dependencies: ["GatherSpool", "Gather"], path: "Tests/GatherSpoolHelper"),

    .testTarget(name: "GatherTests", dependencies: ["Gather"]),
    .testTarget(name: "GatherSystemTests", dependencies: ["GatherSystem"]),
    // GatherSpool: the stderr tail the process keeps, rendered as the record renders it.
    .testTarget(
        name: "GatherProcessTests",
        dependencies: ["GatherProcess", "GatherSystem", "Gather", "GatherSpool", "GatherTestSupport", "gather-process-helper"]
    ),
    .testTarget(
        name: "GatherJournalTests",
        dependencies: ["GatherJournal", "Gather", "GatherSystem", "GatherTestSupport", "journal-probe"]
    ),
    .testTarget(name: "GatherSpoolTests", dependencies: ["GatherSpool", "GatherSystem", "Gather", "GatherFuzz", "gather-spool-helper"]),
    .testTarget(
        name: "GatherDaemonTests",
        dependencies: ["GatherDaemon", "GatherSpool", "GatherSystem", "CLinux", "GatherTestSupport", "gatherd"],
        // Run by the metrics tests from the source tree (prometheus_client's parser).
        exclude: ["Scripts"]
    ),
    // Runs the real gatherctl binary, against the real gatherd where a daemon is needed.
    .testTarget(name: "GatherCLITests", dependencies: ["GatherCLI", "GatherSystem", "GatherTestSupport", "gatherctl", "gatherd"]),
]

let package = Package(
    name: "gatherd",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Gather", targets: ["Gather"]),
        .executable(name: "gatherd", targets: ["gatherd"]),
        .executable(name: "gatherctl", targets: ["gatherctl"]),
    ],
    dependencies: [
        // Both command lines: per-command help, --version, shell completions (SPEC §9, §10).
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        // The documentation plugin only: `swift package generate-documentation --target Gather`
        // builds the library's DocC catalog (Sources/Gather/Gather.docc). No target depends on it.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: productTargets + benchmarkTargets + faultToolTargets + testTargets,
    swiftLanguageModes: [.v6]
)
