import Foundation
import GatherSpool

/// Job `id`'s state now: `state.json` with `state.log` applied, read by the
/// library as `gatherctl status` reads it, decoded; `nil` while it is missing.
func currentState(spool: String, id: String) -> [String: Any]? {
    guard let reader = try? SpoolReader(path: spool), let state = reader.state(id) else { return nil }
    return (try? JSONSerialization.jsonObject(with: Data(state.bytes))) as? [String: Any]
}
