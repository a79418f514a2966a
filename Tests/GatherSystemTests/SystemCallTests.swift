import Glibc
import Synchronization
import Testing
@testable import GatherSystem

@Suite struct SystemCallTests {
    @Test func retriesInterruptedCallsAndReportsOtherErrors() {
        var calls = 0
        let result: Result<Int32, Errno> = SystemCall.call {
            calls += 1
            if calls < 3 { errno = EINTR; return -1 }
            errno = ENOENT
            return -1
        }
        #expect(calls == 3)
        #expect(result == .failure(Errno(ENOENT)))
        #expect(Errno(ENOENT).description == "No such file or directory")
    }

    @Test func conventionsOfTheCLibrary() {
        #expect(SystemCall.callReturningNegativeError { -EAGAIN } == .failure(Errno(EAGAIN)))
        #expect(SystemCall.callReturningNegativeError { 4 } == .success(4))
        var tries = 0
        let retried = SystemCall.callReturningError { tries += 1; return tries == 1 ? EINTR : 0 }
        #expect(tries == 2)
        #expect((try? retried.get()) != nil)
        let named = SystemCall.call("open /nonexistent") { open("/nonexistent/x", O_RDONLY) }
        guard case .failure(let error) = named else { Issue.record("opened a file that does not exist"); return }
        #expect(error.description == "open /nonexistent: No such file or directory")
    }

    @Test func listsRawNamesByDescriptorAgainAndAgain() throws {
        var template = Array("/tmp/gather-system-XXXXXX".utf8CString)
        let dir = String(cString: try #require(mkdtemp(&template)))
        defer { _ = system("rm -rf '\(dir)'") }
        let odd: [UInt8] = [0x61, 0xFF, 0x2E, 0x6A]  // not UTF-8
        for name in [Array("a.json".utf8), odd] {
            let fd = SystemCall.withName(Array("\(dir)/".utf8) + name) { open($0, O_CREAT | O_WRONLY | O_CLOEXEC, 0o600) }
            #expect(fd >= 0)
            SystemCall.close(fd)
        }
        let dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { SystemCall.close(dirfd) }
        for _ in 0..<2 {
            let names = try DirectoryListing.names(in: dirfd).get()
            #expect(Set(names) == [Array("a.json".utf8), odd])
        }
        let st = try SystemCall.lstat(odd, in: dirfd).get()
        #expect(st.st_mode & S_IFMT == S_IFREG)
        #expect(SystemCall.lstat(Array("gone".utf8), in: dirfd).map { _ in 0 } == .failure(Errno(ENOENT)))
    }

    @Test func readsProcStatOfALiveProcessAndNotOfAGoneOne() throws {
        let me = getpid()
        let start = try #require(ProcStat.startTime(of: me))
        #expect(start > 0)
        #expect(ProcStat.startTime(of: me) == start)
        #expect(["R", "S"].contains(try #require(ProcStat.state(of: me))))
        #expect(ProcStat.startTime(of: Int32.max) == nil)
    }

    @Test func threadRunsItsBodyUnderItsName() {
        let result = OSThread.start(name: "gather-test-thread-long-name") {
            let fd = open("/proc/thread-self/comm", O_RDONLY | O_CLOEXEC)
            defer { SystemCall.close(fd) }
            let name = (try? SystemCall.readAll(fd, limit: 64).get()) ?? []
            Self.seen.withLock { $0 = String(decoding: name, as: UTF8.self) }
        }
        guard case .success(let thread) = result else { Issue.record("no thread"); return }
        OSThread.join(thread)
        #expect(Self.seen.withLock { $0 } == "gather-test-thr\n")
    }

    static let seen = Mutex<String>("")
}

/// An actor on a ThreadExecutor runs on that thread, in order.
@Suite struct ThreadExecutorTests {
    actor Counter {
        let executor: ThreadExecutor
        nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }
        var values: [Int] = []
        init(executor: ThreadExecutor) { self.executor = executor }

        func add(_ value: Int) -> String {
            values.append(value)
            let fd = open("/proc/thread-self/comm", O_RDONLY | O_CLOEXEC)
            defer { SystemCall.close(fd) }
            return String(decoding: (try? SystemCall.readAll(fd, limit: 64).get()) ?? [], as: UTF8.self)
        }
    }

    @Test func runsTheActorOnItsOwnThreadInOrder() async throws {
        let counter = Counter(executor: try ThreadExecutor(name: "gather-test-exec"))
        for value in 0..<100 {
            #expect(await counter.add(value) == "gather-test-exe\n")
        }
        #expect(await counter.values == Array(0..<100))
        // Many callers at once: every job runs once.
        await withTaskGroup(of: Void.self) { group in
            for value in 100..<200 { group.addTask { _ = await counter.add(value) } }
        }
        #expect(await counter.values.sorted() == Array(0..<200))
    }
}
