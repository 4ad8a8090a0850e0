/// Durations as Docker and Go write them: one or more numbers with a unit, `30s`, `1m30s`,
/// `500ms`, `1.5h` (units ns, us or µs, ms, s, m, h), read as exact nanoseconds.
enum Duration {
    static let units: [(name: String, nanoseconds: Int64)] = [
        // Longest first, so "ms" is not read as "m" then "s".
        ("ns", 1), ("us", 1_000), ("µs", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000),
        ("m", 60_000_000_000), ("h", 3_600_000_000_000),
    ]

    /// Nanoseconds, or nil when `text` is not a duration or does not fit in 64 bits.
    static func nanoseconds(_ text: String) -> Int64? {
        var rest = Substring(text)
        guard !rest.isEmpty else { return nil }
        var total: Int64 = 0
        while !rest.isEmpty {
            let whole = rest.prefix { $0.isASCII && $0.isNumber }
            rest = rest.dropFirst(whole.count)
            var fraction: Substring = ""
            if rest.first == "." {
                rest = rest.dropFirst()
                fraction = rest.prefix { $0.isASCII && $0.isNumber }
                rest = rest.dropFirst(fraction.count)
                guard !fraction.isEmpty else { return nil }
            }
            guard !whole.isEmpty || !fraction.isEmpty else { return nil }
            guard let unit = units.sorted(by: { $0.name.count > $1.name.count }).first(where: { rest.hasPrefix($0.name) }) else { return nil }
            rest = rest.dropFirst(unit.name.count)
            guard let count = whole.isEmpty ? 0 : Int64(whole) else { return nil }
            let (scaled, overflow) = count.multipliedReportingOverflow(by: unit.nanoseconds)
            guard !overflow else { return nil }
            // The fraction's digits, exact to the nanosecond (a finer rest is dropped).
            var part: Int64 = 0
            var scale = unit.nanoseconds
            for digit in fraction {
                scale /= 10
                guard scale > 0 else { break }
                part += Int64(digit.wholeNumberValue ?? 0) * scale
            }
            let (sum, overflowSum) = total.addingReportingOverflow(scaled)
            guard !overflowSum else { return nil }
            let (next, overflowPart) = sum.addingReportingOverflow(part)
            guard !overflowPart else { return nil }
            total = next
        }
        return total
    }
}
