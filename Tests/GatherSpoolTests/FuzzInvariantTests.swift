import Foundation
import GatherFuzz
import Testing
@testable import GatherSpool

/// The job-file fuzzer's engine in process (the fault suite runs it at full
/// size as `gather-fuzz`): mutated inputs through the validator with the
/// daemon's context, none breaking the validator's contract (FuzzOracle).
@Suite struct FuzzInvariantTests {
    /// Inputs per seed: about two seconds of one core in a debug build (the
    /// fault suite runs 10,000 in a release build). More, and two seeds at
    /// once, took both cores of the CI machine for seconds, which the timing
    /// bounds of tests running beside it felt.
    static let inputs = 100

    func run(seed: UInt64) async {
        // The seed, to replay a failure: gather-fuzz --seed N --count 100.
        print("FuzzInvariantTests: seed \(seed), \(Self.inputs) inputs")
        // On a thread of its own: seconds of CPU on the cooperative pool (two
        // threads on two cores) would stall every other test's clock meanwhile.
        let summary = await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: FuzzRun.run(seed: seed, count: Self.inputs)) }
        }
        #expect(summary.inputs == Self.inputs)
        #expect(summary.valid > 0 && summary.invalid > 0, "valid \(summary.valid), invalid \(summary.invalid)")
        #expect(summary.violationCount == 0,
                "seed \(seed): \(summary.violationCount) violations\n\(summary.violations.prefix(3).map(\.report).joined(separator: "\n"))")
    }

    /// A fixed seed, then a random one, one after the other (one core).
    @Test func aFixedAndARandomSeedBreakNoInvariant() async {
        await run(seed: 0x6761_7468_6572_6421)
        var random = SystemRandomNumberGenerator()
        await run(seed: random.next())
    }

    @Test func theCorpusHoldsEveryKeyOfTheTableAndIsValid() {
        let (files, uncovered) = FuzzCorpus.build()
        #expect(uncovered.isEmpty, "no valid value for \(uncovered): add one to FuzzCorpus.knownValues")
        for key in JobKeyTable.keys {
            let holds = files.contains { file in
                switch key.scope {
                case .job: return file.document[key.name] != nil
                case .task:
                    guard case .array(let tasks)? = file.document["tasks"] else { return false }
                    return tasks.contains { $0[key.name] != nil }
                }
            }
            #expect(holds, "no corpus file holds \(key.scope) key \(key.name)")
        }
        for file in files {
            let v = JobFileValidator.validate(file.document.bytes(), context: FuzzOracle.daemonContext())
            #expect(v.job != nil, "\(file.label): \(v.errorLine)")
        }
    }

    /// The same seed makes the same inputs.
    @Test func inputsReplayFromTheSeed() {
        let (files, _) = FuzzCorpus.build()
        let a = FuzzMutator(corpus: files, seed: 42), b = FuzzMutator(corpus: files, seed: 42)
        for i in [0, 1, 17, 999] { #expect(a.input(i).bytes == b.input(i).bytes) }
    }
}
