import Foundation

/// Runs a command to its end and returns what it printed, for fixtures and tests.
public enum Run {
    /// The result of a command.
    public struct Result: Sendable {
        public let status: Int32
        public let stdout: Data
        public let stderr: Data
        /// stdout and stderr as text, for failure messages.
        public var output: String {
            String(decoding: stdout, as: UTF8.self) + String(decoding: stderr, as: UTF8.self)
        }
        public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
        public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
    }

    /// Runs `argv` (looked up in `PATH` when not absolute) with `environment` added.
    public static func command(_ argv: [String], environment: [String: String] = [:]) throws -> Result {
        let process = Process()
        if argv[0].hasPrefix("/") {
            process.executableURL = URL(fileURLWithPath: argv[0])
            process.arguments = Array(argv.dropFirst())
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = argv
        }
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Read both pipes to their end before waiting, so a full pipe cannot stall the child.
        let group = DispatchGroup()
        // Written by the one reader below, read only after group.wait().
        nonisolated(unsafe) var errData = Data()
        group.enter()
        DispatchQueue.global().async {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: outData, stderr: errData)
    }

    /// The folder of the running test binary, where SwiftPM also puts the package's executables.
    public static var buildProductsDirectory: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var url = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // Inside `X.xctest/` on some layouts; the products are beside it.
        while url.path.hasSuffix(".xctest") || url.lastPathComponent == "MacOS" || url.lastPathComponent == "Contents" {
            url = url.deletingLastPathComponent()
        }
        return url.path
    }
}
