import GatherSystem
import Glibc

/// A process that could not start (outcome `spawn-failed`). `description` is
/// the SPEC §5 text: `could not start: No such file or directory (curl)`,
/// `… (cwd /srv/x)`, `… (user alice)`.
public struct SpawnError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Which step failed.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let name: String
        /// Looking the command up or `execve` (not found, not executable).
        public static let command = Code(name: "command")
        /// `chdir` to the working directory.
        public static let cwd = Code(name: "cwd")
        /// Switching groups or user.
        public static let identity = Code(name: "identity")
        /// Setting up the child's session, descriptors or limits.
        public static let setup = Code(name: "setup")
        /// Creating the task's cgroup, or starting the child in it.
        public static let cgroup = Code(name: "cgroup")
        /// The parent's side: pipes, `clone`, descriptors.
        public static let launcher = Code(name: "launcher")
        public var description: String { name }
    }

    public let code: Code
    /// The errno.
    public let errno: Int32
    /// What the line names in parentheses: the command, `cwd /srv/x`, `user alice`.
    public let context: String

    public init(code: Code, errno: Int32, context: String) {
        self.code = code
        self.errno = errno
        self.context = context
    }

    public var description: String {
        "could not start: \(Errno(errno)) (\(context))"
    }
}
