import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A notify socket a test binds itself, as systemd does for a `Type=notify`
/// service: point `NOTIFY_SOCKET` at ``path`` and read what arrives.
///
/// `NOTIFY_SOCKET` is process-wide: suites using this must be `.serialized`.
public final class NotifyReceiver: @unchecked Sendable {
    /// The socket's path (in a fresh temporary folder).
    public let path: String
    private let fd: Int32
    private let folder: String

    /// Binds a datagram socket in a new temporary folder.
    public init() throws {
        folder = NSTemporaryDirectory() + "gather-notify-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        path = folder + "/notify.sock"
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw FixtureError(what: "socket", output: String(cString: strerror(errno))) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw FixtureError(what: "bind", output: "path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else {
            let message = String(cString: strerror(errno))
            close(fd)
            throw FixtureError(what: "bind \(path)", output: message)
        }
    }

    deinit {
        close(fd)
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// The next datagram as `NAME → value` pairs in order, or `nil` after `timeout`.
    public func receive(timeout: Duration = .seconds(2)) -> [(name: String, value: String)]? {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let millis = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        while true {
            let ready = poll(&pfd, 1, millis)
            if ready < 0 && errno == EINTR { continue }
            if ready <= 0 { return nil }
            break
        }
        var buffer = [UInt8](repeating: 0, count: 65536)
        var count = -1
        repeat {
            count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        } while count < 0 && errno == EINTR
        guard count >= 0 else { return nil }
        let text = String(decoding: buffer[..<count], as: UTF8.self)
        return text.split(separator: "\n").compactMap { line -> (name: String, value: String)? in
            let parts = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { return nil }
            return (String(parts[0]), String(parts[1]))
        }
    }
}
