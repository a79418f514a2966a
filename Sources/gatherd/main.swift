// gatherd: the job supervisor daemon (SPEC §9). Argument parsing and the
// call into the daemon library; everything else lives in GatherDaemon.
import GatherDaemon
#if canImport(Glibc)
import Glibc
#endif

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.contains("--help") || arguments.contains("-h") {
    print(DaemonConfiguration.usage)
    exit(0)
}
let configuration: DaemonConfiguration
do {
    configuration = try DaemonConfiguration.parse(arguments, environment: ProcessEnvironment.current)
} catch {
    let text = "gatherd: \(error)\n\(DaemonConfiguration.usage)\n"
    _ = text.withCString { write(2, $0, strlen($0)) }
    exit(2)
}
exit(await Daemon.run(configuration))
