// gatherctl: the user's command line (SPEC §10). The commands live in the
// GatherCLI library; this file only hands over the arguments and exits.
import GatherCLI
#if canImport(Glibc)
import Glibc
#endif

var environment: [String: String] = [:]
if let spool = getenv("GATHER_SPOOL") { environment["GATHER_SPOOL"] = String(cString: spool) }
exit(GatherCtl.run(Array(CommandLine.arguments.dropFirst()), environment: environment))
