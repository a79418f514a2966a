// gatherd: the job supervisor daemon (SPEC §9). The command line is read by
// GatherdCommand; everything else lives in GatherDaemon.
import GatherDaemon
#if canImport(Glibc)
import Glibc
#endif

switch DaemonConfiguration.commandLine(Array(CommandLine.arguments.dropFirst()), environment: ProcessEnvironment.current) {
case .exit(let status):
    exit(status)
case .run(let configuration):
    exit(await Daemon.run(configuration))
}
