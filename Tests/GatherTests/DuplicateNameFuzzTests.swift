import Testing
import Foundation
@testable import Gather

@Suite("Duplicate names against Set<String>") struct DuplicateNameFuzzTests {
    func reference(_ names: [String]) -> [Int] {
        var seen = Set<String>()
        return names.indices.filter { !seen.insert(names[$0]).inserted }
    }

    @Test func matchesTheSet() {
        var rng = SystemRandomNumberGenerator()
        let alphabets: [[String]] = [["a", "b"], ["a", "b", "\0", "\r\n", "x"], ["a", "é", "e\u{301}"], ["\r", "\n", "\r\n"]]
        for trial in 0..<3000 {
            let alphabet = alphabets[trial % alphabets.count]
            let count = Int.random(in: 0...300, using: &rng)
            let maxLen = [3, 9, 17, 40][trial % 4]
            let names = (0..<count).map { _ in
                (0..<Int.random(in: 0...maxLen, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }.joined()
            }
            #expect(DuplicateNames.positions(in: names) == reference(names), "trial \(trial)")
        }
        // Foundation-made and substring-made strings.
        let ns = [NSString(string: "abc") as String, String(Substring("xabc").dropFirst()), "abc", String(describing: "abc")]
        #expect(DuplicateNames.positions(in: ns) == [1, 2, 3])
        let big = (0..<200_000).map { "n\($0 % 150_000)" }
        #expect(DuplicateNames.positions(in: big) == reference(big))
    }
}
