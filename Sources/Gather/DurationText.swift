/// Durations as the library writes them in error lines and as job files give them.
///
/// Written: `Nms` below one second, otherwise the non-zero `h`, `m`, `s` parts
/// with seconds to at most three decimals and no trailing zeros (`300ms`,
/// `1.5s`, `1m30s`, `2h`). Read: a sequence of `<number><unit>` with units
/// `ms`, `s`, `m`, `h` (`"250ms"`, `"1h30m"`, `"1.5s"`).
public enum DurationText {
    /// The text of a configured limit, e.g. `1m30s`.
    public static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        // Whole milliseconds, rounded half up; negative durations never occur in a limit.
        var millis = seconds * 1000 + (attoseconds + 500_000_000_000_000) / 1_000_000_000_000_000
        if millis < 0 { millis = 0 }
        if millis < 1000 { return "\(millis)ms" }
        let hours = millis / 3_600_000
        millis -= hours * 3_600_000
        let minutes = millis / 60_000
        millis -= minutes * 60_000
        var text = ""
        if hours > 0 { text += "\(hours)h" }
        if minutes > 0 { text += "\(minutes)m" }
        if millis > 0 {
            let whole = millis / 1000
            var frac = millis % 1000
            text += "\(whole)"
            if frac > 0 {
                var digits = 3
                while frac % 10 == 0 { frac /= 10; digits -= 1 }
                let padded = String(frac)
                text += "." + String(repeating: "0", count: digits - padded.count) + padded
            }
            text += "s"
        }
        return text
    }

    /// Parses a duration string; `nil` when it is not one.
    ///
    /// Accepts one or more `<number><unit>` parts, units `ms`, `s`, `m`, `h`,
    /// numbers with an optional fraction (`1.5s`). Rejects signs, spaces,
    /// exponents, an empty string and a unit used twice.
    public static func parse(_ text: String) -> Duration? {
        var nanos: Double = 0
        var seenUnits: Set<String> = []
        var rest = Substring(text)
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !number.isEmpty, number.first != ".", number.last != ".",
                  number.filter({ $0 == "." }).count <= 1,
                  let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { $0.isASCII && $0.isLetter }
            rest = rest.dropFirst(unit.count)
            let scale: Double
            switch unit {
            case "ms": scale = 1e6
            case "s": scale = 1e9
            case "m": scale = 60e9
            case "h": scale = 3600e9
            default: return nil
            }
            guard seenUnits.insert(String(unit)).inserted else { return nil }
            nanos += value * scale
        }
        return fromNanoseconds(nanos)
    }

    /// A duration from a JSON number of seconds; `nil` if negative or not finite.
    public static func fromSeconds(_ seconds: Double) -> Duration? {
        guard seconds.isFinite, seconds >= 0 else { return nil }
        return fromNanoseconds(seconds * 1e9)
    }

    private static func fromNanoseconds(_ nanos: Double) -> Duration? {
        // More than ~292 years of nanoseconds does not fit Int64.
        guard nanos.isFinite, nanos >= 0, nanos < 9.2e18 else { return nil }
        return .nanoseconds(Int64(nanos.rounded()))
    }
}

/// Durations in the units records use.
extension Duration {
    /// Whole milliseconds, for records (`duration_ms`).
    public var gatherMilliseconds: Int64 {
        let (s, atto) = components
        return s * 1000 + atto / 1_000_000_000_000_000
    }
}
