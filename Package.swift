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
        .target(name: "GatherJournal", dependencies: ["CSystemd"]),
        .target(name: "GatherSpool", dependencies: ["Gather", "CLinux"]),

        // Benchmarks: executables that print figures (scripts/bench.sh runs them).
        .executableTarget(name: "gather-bench", dependencies: ["Gather"], path: "Benchmarks/gather-bench"),
        // The process launcher against a C posix_spawn + wait loop (CSpawnLoop).
        .executableTarget(name: "spawn-bench", dependencies: ["GatherProcess", "CSpawnLoop"], path: "Benchmarks/spawn-bench"),
        .target(name: "CSpawnLoop", path: "Benchmarks/CSpawnLoop"),

        .testTarget(name: "GatherTests", dependencies: ["Gather"]),
        .testTarget(name: "GatherProcessTests", dependencies: ["GatherProcess", "Gather", "gather-process-helper"]),
        // Runs process-wide checks (signal state, memory, subreaper) outside the shared test process.
        .executableTarget(name: "gather-process-helper", dependencies: ["GatherProcess"], path: "Tests/GatherProcessHelper"),
        .testTarget(name: "GatherJournalTests", dependencies: ["GatherJournal"]),
        .testTarget(name: "GatherSpoolTests", dependencies: ["GatherSpool", "Gather"]),
    ],
    swiftLanguageModes: [.v6]
)
