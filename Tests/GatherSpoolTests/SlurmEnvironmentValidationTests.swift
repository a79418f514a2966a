import Testing
@testable import GatherSpool

/// `SLURM_*` names in the `env` of an `executor: slurm` task (docs/slurm.md):
/// rejected at their key path, in the job's `env` when any task runs in
/// Slurm and in a Slurm task's own `env`; allowed for local tasks.
@Suite struct SlurmEnvironmentValidationTests {
    static let why = "SLURM_* names are not allowed with executor: slurm (srun would take them and could run elsewhere)"

    @Test func jobEnvIsRejectedWhenAnyTaskRunsInSlurm() {
        let found = problems(#"""
            {"env": {"SLURM_CONF": "/other/slurm.conf", "A": "1"}, "tasks": [
              {"name": "local", "command": ["x"]},
              {"name": "remote", "command": ["x"], "executor": "slurm"}]}
            """#)
        #expect(found == ["env.SLURM_CONF: \(Self.why); task remote runs in Slurm"])
    }

    @Test func slurmTaskEnvIsRejectedAtItsKey() {
        let found = problems(#"""
            {"executor": "slurm", "tasks": [
              {"name": "a", "command": ["x"], "env": {"B": "2", "SLURM_JOB_ID": "7"}},
              {"name": "b", "command": ["x"], "env": {"SLURM_CLUSTERS": "far"}}]}
            """#)
        #expect(found == ["tasks[0].env.SLURM_JOB_ID: \(Self.why)", "tasks[1].env.SLURM_CLUSTERS: \(Self.why)"])
    }

    @Test func localTasksMaySetSlurmNames() {
        // A local task's own env, and the job's when no task runs in Slurm.
        #expect(problems(#"""
            {"env": {"SLURM_CONF": "/etc/slurm/test.conf"}, "tasks": [{"name": "a", "command": ["x"]}]}
            """#).isEmpty)
        #expect(problems(#"""
            {"executor": "slurm", "tasks": [
              {"name": "a", "command": ["x"], "executor": "local", "env": {"SLURM_CONF": "/etc/slurm/test.conf"}},
              {"name": "b", "command": ["x"]}]}
            """#).isEmpty)
    }

    @Test func namesThatOnlyLookAlikeAreAllowed() {
        #expect(problems(#"""
            {"executor": "slurm", "env": {"SLURMY": "1", "MY_SLURM_CONF": "x", "slurm_conf": "y"},
             "tasks": [{"name": "a", "command": ["x"]}]}
            """#).isEmpty)
    }
}
