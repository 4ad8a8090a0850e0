/// Glob match of a relative path: `*` within a name, `**` across names.
enum Glob {
    static func matches(_ pattern: String, _ path: String) -> Bool {
        match(Array(pattern.split(separator: "/", omittingEmptySubsequences: false)),
              Array(path.split(separator: "/", omittingEmptySubsequences: false)))
    }

    private static func match(_ pattern: [Substring], _ path: [Substring]) -> Bool {
        guard let first = pattern.first else { return path.isEmpty }
        if first == "**" {
            let rest = Array(pattern.dropFirst())
            if rest.isEmpty { return !path.isEmpty }
            for start in 0...path.count where match(rest, Array(path[start...])) { return true }
            return false
        }
        guard let name = path.first, matchName(first, name) else { return false }
        return match(Array(pattern.dropFirst()), Array(path.dropFirst()))
    }

    private static func matchName(_ pattern: Substring, _ name: Substring) -> Bool {
        let p = Array(pattern), n = Array(name)
        var pi = 0, ni = 0, star = -1, mark = 0
        while ni < n.count {
            if pi < p.count && p[pi] == "*" {
                star = pi
                mark = ni
                pi += 1
            } else if pi < p.count && p[pi] == n[ni] {
                pi += 1
                ni += 1
            } else if star >= 0 {
                pi = star + 1
                mark += 1
                ni = mark
            } else {
                return false
            }
        }
        while pi < p.count && p[pi] == "*" { pi += 1 }
        return pi == p.count
    }
}
