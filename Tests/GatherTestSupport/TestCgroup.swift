import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A cgroup v2 directory of a test's own, for `gatherd --cgroup PATH` or the
/// launcher: parallel tests never share a subtree (and never use the name
/// `supervisor` at the root, which systemd-nspawn uses there).
///
///     guard let cgroup = TestCgroup.make("kill") else { return }   // prints why it skips
public final class TestCgroup: Sendable {
    /// The directory, under the cgroup2 mount.
    public let path: String

    private init(path: String) { self.path = path }

    deinit { Self.removeTree(path) }

    /// Where cgroup2 is mounted (`/sys/fs/cgroup` unified, `/sys/fs/cgroup/unified` hybrid), if anywhere.
    public static let mount: String? = {
        guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count, fields[dash + 1] == "cgroup2" {
                return String(fields[4])
            }
        }
        return nil
    }()

    /// Why no test cgroup can be made here, or nil when one can.
    public static let unavailable: String? = {
        guard getuid() == 0 else { return "cgroup tests need root (uid \(getuid()))" }
        guard let mount else { return "no cgroup2 mount in /proc/self/mountinfo" }
        let probe = mount + "/gatherd-test-probe-\(getpid())"
        guard mkdir(probe, 0o755) == 0 || errno == EEXIST else {
            return "cannot make a cgroup under \(mount): \(String(cString: strerror(errno)))"
        }
        rmdir(probe)
        guard FileManager.default.fileExists(atPath: mount + "/cgroup.procs") else { return "\(mount) is not a cgroup2 root" }
        return nil
    }()

    /// A fresh cgroup `gatherd-test-NAME-RANDOM` at the cgroup2 root, or nil
    /// (having printed why the test skips).
    /// - Parameter quiet: print nothing (for a fixture that runs without one).
    public static func make(_ name: String, quiet: Bool = false) -> TestCgroup? {
        if let unavailable {
            if !quiet { print("skipped: \(unavailable)") }
            return nil
        }
        let path = mount! + "/gatherd-test-\(name)-\(UInt32.random(in: 0...UInt32.max))"
        guard mkdir(path, 0o755) == 0 else {
            if !quiet { print("skipped: cannot make \(path): \(String(cString: strerror(errno)))") }
            return nil
        }
        return TestCgroup(path: path)
    }

    /// The controllers available to children of this cgroup (`cgroup.controllers`).
    public var controllers: Set<String> {
        let text = (try? String(contentsOfFile: path + "/cgroup.controllers", encoding: .utf8)) ?? ""
        return Set(text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
    }

    /// The names of its child cgroups now.
    public func children(of relative: String = "") -> [String] {
        let directory = relative.isEmpty ? path : path + "/" + relative
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { name in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: directory + "/" + name, isDirectory: &isDirectory) && isDirectory.boolValue
        }.sorted()
    }

    /// Kills whatever is left below `path` and removes it, children first.
    public static func removeTree(_ path: String) {
        if let names = try? FileManager.default.contentsOfDirectory(atPath: path) {
            for name in names {
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: path + "/" + name, isDirectory: &isDirectory), isDirectory.boolValue {
                    removeTree(path + "/" + name)
                }
            }
        }
        if let fd = Optional(open(path + "/cgroup.kill", O_WRONLY | O_CLOEXEC)), fd >= 0 {
            _ = write(fd, "1", 1)
            close(fd)
        }
        for _ in 0..<200 {
            if rmdir(path) == 0 || errno == ENOENT { return }
            usleep(10_000)
        }
    }
}
