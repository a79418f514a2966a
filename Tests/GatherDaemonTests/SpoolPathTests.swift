#if canImport(Glibc)
import Glibc
#endif
@testable import GatherDaemon
import Testing

/// The spool's path reaches processes that run in other directories (a hook's
/// `GATHER_RECORD` in the job's working directory): gatherd makes it absolute.
@Suite struct SpoolPathTests {
    func cwd() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        _ = getcwd(&buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    @Test func aRelativeSpoolIsMadeAbsolute() throws {
        let here = cwd()
        #expect(try GatherdCommand.parse(["--spool", "sp"]).configuration(environment: [:]).spool == here + "/sp")
        #expect(try GatherdCommand.parse(["--spool", "./sp/"]).configuration(environment: [:]).spool == here + "/sp/")
        #expect(try GatherdCommand.parse(["--spool", "."]).configuration(environment: [:]).spool == here)
        #expect(try GatherdCommand.parse([]).configuration(environment: ["GATHER_SPOOL": "env-spool"]).spool == here + "/env-spool")
    }

    @Test func anAbsoluteSpoolIsKept() throws {
        #expect(try GatherdCommand.parse(["--spool", "/srv/spool"]).configuration(environment: [:]).spool == "/srv/spool")
        #expect(try GatherdCommand.parse([]).configuration(environment: [:]).spool == "/var/spool/gatherd")
    }
}
