import GatherSpool

/// One input the validator answered against its contract.
public struct FuzzViolation: Sendable {
    public let index: Int
    public let base: String
    public let mutations: [String]
    public let bytes: [UInt8]
    public let what: [String]
    /// The validator's answer: its error line, or `valid`.
    public let answer: String

    /// The input and what went wrong, for a report.
    public var report: String {
        """
        input \(index) (from \(base); \(mutations.isEmpty ? "not mutated" : mutations.joined(separator: "; ")))
          bytes (\(bytes.count)): \(FuzzRun.show(bytes))
          validator: \(answer.count > 600 ? String(answer.prefix(600)) + "…" : answer)
        \(what.map { "  - " + $0 }.joined(separator: "\n"))
        """
    }
}

/// The figures of a run.
public struct FuzzSummary: Sendable {
    public var seed: UInt64
    public var corpusFiles = 0
    public var inputs = 0
    public var valid = 0
    public var invalid = 0
    /// Inputs whose mutation told what the validator must say, and those given several mutations.
    public var withExpectation = 0
    public var multiplyMutated = 0
    public var problems = 0
    /// Distinct problem messages, and distinct after quoted text and numbers are masked.
    public var messages = Set<String>()
    public var messageKinds = Set<String>()
    public var violationCount = 0
    /// The first violations (``FuzzRun/keep`` at most).
    public var violations: [FuzzViolation] = []
    /// Seconds spent validating (twice for the inputs checked for determinism).
    public var validationSeconds = 0.0
}

/// A run of the fuzzer in this process: the corpus, then `count` mutated
/// inputs through ``JobFileValidator`` with the daemon's context, each
/// checked by ``FuzzOracle``.
public enum FuzzRun {
    /// How many violations a summary keeps in full.
    public static let keep = 20

    /// Runs `count` inputs of `seed`; `each` sees every input and its answer.
    public static func run(seed: UInt64, count: Int, context: JobFileContext = FuzzOracle.daemonContext(),
                           each: (FuzzInput, JobFileValidation) -> Void = { _, _ in }) -> FuzzSummary {
        var summary = FuzzSummary(seed: seed)
        let clock = ContinuousClock()
        func record(_ v: FuzzViolation) {
            summary.violationCount += 1
            if summary.violations.count < keep { summary.violations.append(v) }
        }
        let (corpus, uncovered) = FuzzCorpus.build()
        summary.corpusFiles = corpus.count
        for key in uncovered {
            record(FuzzViolation(index: -1, base: key, mutations: [], bytes: [], what: ["the corpus has no valid value for \(key)"], answer: ""))
        }
        for file in corpus {
            let bytes = file.document.bytes()
            let v = JobFileValidator.validate(bytes, context: context)
            if v.job == nil {
                record(FuzzViolation(index: -1, base: file.label, mutations: [], bytes: bytes, what: ["a corpus file is not valid"], answer: v.errorLine))
            }
        }
        let mutator = FuzzMutator(corpus: corpus, seed: seed)
        for index in 0..<count {
            let input = mutator.input(index)
            var validation: JobFileValidation!
            summary.validationSeconds += seconds(clock.measure {
                validation = JobFileValidator.validate(input.bytes, context: context)
            })
            var what = FuzzOracle.violations(validation, bytes: input.bytes, expectation: input.expectation)
            // The same bytes, the same answer.
            if index % 4 == 0 {
                let again = JobFileValidator.validate(input.bytes, context: context)
                if again.errorLine != validation.errorLine || (again.job == nil) != (validation.job == nil) {
                    what.append("a second validation answered otherwise: \(again.errorLine)")
                }
            }
            summary.inputs += 1
            if validation.job != nil { summary.valid += 1 } else { summary.invalid += 1 }
            if input.expectation != nil { summary.withExpectation += 1 }
            if input.mutations.count > 1 { summary.multiplyMutated += 1 }
            summary.problems += validation.problems.count
            for p in validation.problems {
                summary.messages.insert(p.message)
                summary.messageKinds.insert(kind(p.message))
            }
            if !what.isEmpty {
                record(FuzzViolation(index: index, base: input.base, mutations: input.mutations, bytes: input.bytes, what: what,
                                     answer: validation.job != nil ? "valid" : validation.errorLine))
            }
            each(input, validation)
        }
        return summary
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// A message with quoted text and numbers masked: `unknown task "…"`, `line N, column N: …`.
    public static func kind(_ message: String) -> String {
        var out = ""
        var quoted = false
        var lastDigit = false
        for c in message {
            if c == "\"" {
                if !quoted { out += "\"…\"" }
                quoted.toggle()
                continue
            }
            if quoted { continue }
            if c.isASCII, c.isNumber {
                if !lastDigit { out += "N" }
                lastDigit = true
                continue
            }
            lastDigit = false
            out.append(c)
        }
        return out
    }

    /// Bytes for a report: printable ASCII as is, the rest as `\xNN`, long runs cut.
    public static func show(_ bytes: [UInt8], limit: Int = 400) -> String {
        var out = ""
        for b in bytes.prefix(limit) {
            if b >= 0x20 && b < 0x7F && b != UInt8(ascii: "\\") { out.append(Character(Unicode.Scalar(b))) } else {
                let hex = String(b, radix: 16)
                out += "\\x" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        if bytes.count > limit { out += "… (\(bytes.count - limit) more bytes)" }
        return out
    }
}
