/// "Did you mean" suggestions for misspelt keys and names.
enum Suggestions {
    /// Words people reach for from Dockerfiles, compose files and Packer templates.
    static let aliases: [String: String] = [
        "dest": "to", "destination": "to", "target": "to", "into": "to",
        "chmod": "mode", "permissions": "mode", "perm": "mode",
        "chown": "owner", "user:group": "owner",
        "environment": "env", "vars": "env", "variables": "env",
        "working_dir": "workdir", "workingdir": "workdir", "working-dir": "workdir", "cwd": "workdir",
        "expose": "ports", "exposedports": "ports", "port": "ports",
        "stopsignal": "stopSignal", "stop_signal": "stopSignal", "stop-signal": "stopSignal",
        "label": "labels", "command": "cmd", "entry": "entrypoint",
        "image": "from", "base": "from", "step": "steps", "check": "checks", "tests": "checks",
        "shell": "run", "script": "run", "sh": "run", "add": "copy", "cp": "copy",
        "rm": "remove", "delete": "remove", "packages": "apt", "install": "apt",
        "secret": "secrets", "net": "network",
        "health": "healthcheck", "health_check": "healthcheck", "health-check": "healthcheck",
        "volume": "volumes", "start_period": "startPeriod", "start-period": "startPeriod",
    ]

    /// The best candidate for `word`, or nil when none is close.
    static func suggest(_ word: String, from candidates: [String]) -> String? {
        let lower = word.lowercased()
        if let exact = candidates.first(where: { $0.lowercased() == lower }) { return exact }
        if let alias = aliases[lower], candidates.contains(alias) { return alias }
        var best: (String, Int)?
        for candidate in candidates {
            let distance = editDistance(lower, candidate.lowercased())
            let limit = max(1, min(2, candidate.count / 3))
            if distance <= limit, best == nil || distance < best!.1 { best = (candidate, distance) }
        }
        return best?.0
    }

    /// `; did you mean 'x'?` or nothing.
    static func hint(_ word: String, from candidates: [String]) -> String {
        suggest(word, from: candidates).map { "; did you mean '\($0)'?" } ?? ""
    }

    /// Edit distance counting an insertion, a deletion, a substitution or a swap of two
    /// neighbouring characters as one edit (optimal string alignment), so "form" is one
    /// edit from "from".
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.unicodeScalars), b = Array(b.unicodeScalars)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var table = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { table[i][0] = i }
        for j in 0...b.count { table[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                table[i][j] = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    table[i][j] = min(table[i][j], table[i - 2][j - 2] + 1)
                }
            }
        }
        return table[a.count][b.count]
    }
}
