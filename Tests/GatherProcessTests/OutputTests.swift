import GatherProcess
import GatherSpool
import Testing

@Suite("Output: lines, streams, stderr tail", .timeLimit(.minutes(1)))
struct OutputTests {
    @Test("lines arrive per stream, without newlines; a final unterminated line at EOF")
    func lines() async throws {
        let result = try await Support.run(["/bin/sh", "-c", "echo one; echo two >&2; printf 'three\\n\\nfour'; printf 'err-last' >&2"])
        #expect(result.out == ["one", "three", "", "four"])
        #expect(result.err == ["two", "err-last"])
        #expect(result.process.stderrTail == Array("two\nerr-last".utf8))
    }

    @Test("a line longer than 64 KiB is split into 64 KiB pieces")
    func longLine() async throws {
        let result = try await Support.run(["/bin/sh", "-c", "head -c 150000 /dev/zero | tr '\\0' x; echo; echo after"])
        #expect(result.out.map(\.utf8.count) == [65536, 65536, 18928, 5])
        #expect(result.out.last == "after")
    }

    @Test("the stderr tail keeps the last 4 KiB, cut at a character boundary")
    func tailBoundary() async throws {
        // 3000 two-byte characters and an "a" (6001 bytes): the last 4096
        // bytes start in the middle of a character, which is dropped.
        let result = try await Support.run(["/bin/sh", "-c", "i=0; while [ $i -lt 3000 ]; do printf 'é' >&2; i=$((i+1)); done; printf a >&2"])
        // The process keeps the bytes; the record renders them.
        let tail = StderrTailText.tail(result.process.stderrTail, limit: JobRecord.tailLimit)
        #expect(tail.utf8.count == 4095)
        #expect(tail.hasSuffix("a"))
        #expect(tail.dropLast().allSatisfy { $0 == "é" })
        #expect(tail.count == 2048)
    }

    @Test("invalid UTF-8 in the tail becomes U+FFFD")
    func tailInvalid() async throws {
        let result = try await Support.run(["/bin/sh", "-c", "printf 'ok \\377\\376 end\\n' >&2"])
        #expect(StderrTailText.tail(result.process.stderrTail, limit: JobRecord.tailLimit) == "ok \u{FFFD}\u{FFFD} end\n")
    }

    @Test("no handler: output is read and discarded, the tail is kept")
    func discard() async throws {
        let process = try Support.launcher.spawn(
            ProcessSpec(command: ["/bin/sh", "-c", "yes | head -c 1000000; echo bad >&2; exit 1"], environment: Support.path))
        #expect(await process.exitStatus() == .exited(1))
        await process.outputFinished(within: .seconds(5))
        #expect(process.stderrTail == Array("bad\n".utf8))
    }
}
