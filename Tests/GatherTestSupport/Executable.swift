import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Test scripts that stand in for programs (a fake `scancel`, `scontrol`).
public enum Executable {
    public struct WriteError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Writes `script` to `path` as an executable (mode 0755) and returns once
    /// it can be executed.
    ///
    /// The file is written through a descriptor with `O_CLOEXEC`: a child
    /// that another test spawns at that moment must not keep it open for
    /// writing past its `exec` (a script open for writing anywhere cannot be
    /// executed: ETXTBSY, "Text file busy", seen in CI). A child forked in
    /// the brief window before its `exec` still holds a copy, so the script is
    /// run once (with the argument `0`, as a harmless call) until that works.
    public static func write(_ script: String, to path: String) throws {
        unlink(path)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o755)
        guard fd >= 0 else { throw WriteError(description: "cannot create \(path): errno \(errno)") }
        let bytes = Array(script.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard written == bytes.count else { throw WriteError(description: "cannot write \(path)") }
        // The mode given to open() is masked by the umask.
        chmod(path, 0o755)
        for _ in 0..<100 {
            if (try? Run.command([path, "0"])) != nil { return }
            usleep(20_000)
        }
        throw WriteError(description: "\(path) cannot be executed (still busy after 2 s)")
    }
}
