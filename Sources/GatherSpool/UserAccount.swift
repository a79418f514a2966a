import GatherSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A user account from the passwd and group databases (`getpwnam_r`,
/// `getpwuid_r`, `getgrouplist`): what the process launcher needs to run a
/// task as this user (SPEC §4 task environment, §8 identity).
public struct UserAccount: Sendable, Hashable {
    public let name: String
    public let uid: UInt32
    /// The primary group.
    public let gid: UInt32
    /// Every group the user is in, the primary one included (`getgrouplist`).
    public let groups: [UInt32]
    public let home: String
    public let shell: String

    public init(name: String, uid: UInt32, gid: UInt32, groups: [UInt32], home: String, shell: String) {
        self.name = name
        self.uid = uid
        self.gid = gid
        self.groups = groups
        self.home = home
        self.shell = shell
    }

    /// ``lookup(name:)`` through a cache of at most ``cacheLifetime``: a burst
    /// of files from one user costs one passwd and group look-up, not one per
    /// file (each reads `/etc/passwd` and `/etc/group`, or asks NSS's other
    /// sources). A change to an account applies within that time.
    public static func cached(name: String) -> UserAccount? {
        cache.lookup(.name(name)) { lookup(name: name) }
    }

    /// ``lookup(uid:)`` through the same cache.
    public static func cached(uid: UInt32) -> UserAccount? {
        cache.lookup(.uid(uid)) { lookup(uid: uid) }
    }

    /// How long a looked-up account (or its absence) is reused.
    public static let cacheLifetime = Duration.seconds(1)
    private static let cache = AccountCache()

    /// The account named `name`; `nil` when there is no passwd entry.
    public static func lookup(name: String) -> UserAccount? {
        guard !name.isEmpty, !name.utf8.contains(0) else { return nil }
        return withEntry { pwd, buf, len, result in getpwnam_r(name, pwd, buf, len, result) }
    }

    /// The account with user ID `uid`; `nil` when there is no passwd entry.
    public static func lookup(uid: UInt32) -> UserAccount? {
        withEntry { pwd, buf, len, result in getpwuid_r(uid, pwd, buf, len, result) }
    }

    private static func withEntry(
        _ call: (UnsafeMutablePointer<passwd>, UnsafeMutablePointer<CChar>, Int, UnsafeMutablePointer<UnsafeMutablePointer<passwd>?>) -> Int32
    ) -> UserAccount? {
        var size = 1024
        while size <= 1 << 20 {
            var pwd = passwd()
            var result: UnsafeMutablePointer<passwd>? = nil
            var buffer = [CChar](repeating: 0, count: size)
            let looked = SystemCall.callReturningError {
                buffer.withUnsafeMutableBufferPointer { call(&pwd, $0.baseAddress!, size, &result) }
            }
            if case .failure(let errno) = looked, errno == ERANGE { size *= 4; continue }
            guard case .success = looked, result != nil else { return nil }
            let name = String(cString: pwd.pw_name)
            let home = pwd.pw_dir.map { String(cString: $0) } ?? "/"
            let shell = pwd.pw_shell.map { String(cString: $0) } ?? "/bin/sh"
            return UserAccount(name: name, uid: pwd.pw_uid, gid: pwd.pw_gid,
                               groups: groupList(name: name, gid: pwd.pw_gid), home: home, shell: shell)
        }
        return nil
    }

    private static func groupList(name: String, gid: UInt32) -> [UInt32] {
        var count: Int32 = 32
        while count <= 65536 {
            var groups = [gid_t](repeating: 0, count: Int(count))
            var n = count
            if getgrouplist(name, gid, &groups, &n) >= 0 { return Array(groups.prefix(Int(n))) }
            // getgrouplist sets n to the number needed when the array was too small.
            count = max(n, count * 2)
        }
        return [gid]
    }
}

/// Accounts looked up in the last ``UserAccount/cacheLifetime``, by name and
/// by uid. At most ``limit`` entries; a full cache starts again empty.
final class AccountCache: Sendable {
    enum Key: Hashable, Sendable {
        case name(String)
        case uid(UInt32)
    }
    private struct Entry: Sendable {
        let account: UserAccount?
        let expires: ContinuousClock.Instant
    }
    static let limit = 1024
    private let entries = Mutex<[Key: Entry]>([:])

    func lookup(_ key: Key, _ load: () -> UserAccount?) -> UserAccount? {
        let now = ContinuousClock.now
        if let entry = entries.withLock({ $0[key] }), entry.expires > now { return entry.account }
        let account = load()
        entries.withLock { entries in
            if entries.count >= Self.limit { entries.removeAll(keepingCapacity: true) }
            entries[key] = Entry(account: account, expires: now.advanced(by: UserAccount.cacheLifetime))
        }
        return account
    }
}
