import Provisioners

/// Causes judged from a difference's path and content: the table of volatile files first,
/// then what only the content tells (gzip headers, zip times, timestamps in text), then
/// random names, which need the other differences too.
extension KnownCause {
    /// The cause of one difference, judged from its path and content alone; nil when none is
    /// known. Random file names need the other differences too: see `annotate(_:)`.
    public static func match(_ difference: FileDifference) -> KnownCause? {
        let path = difference.path
        let name = path.split(separator: "/").last.map(String.init) ?? ""
        let contentDiffers = difference.change == .changed && difference.attributes.contains { $0.attribute == "content sha256" }

        if let row = VolatileFiles.row(for: String(path.drop(while: { $0 == "/" }))) {
            return row.cause
        }
        if contentDiffers && [".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tar.zst"].contains(where: { name.hasSuffix($0) }) {
            return tarMemberTimes
        }
        if contentDiffers && (name.hasSuffix(".gz") || name.hasSuffix(".tgz")) {
            return gzipHeader
        }
        if contentDiffers && [".zip", ".jar", ".war", ".ear", ".whl", ".apk"].contains(where: { name.hasSuffix($0) }) {
            return zipTimestamps
        }
        if contentDiffers, let before = difference.before, let after = difference.after {
            let (removed, inserted) = TextDiff.changedLines(before, after)
            let changed = removed + inserted
            if !changed.isEmpty && changed.allSatisfy(isListingLine) { return listingTimes }
            if onlyTimestampsDiffer(before, after) { return buildTimestamp }
        }
        return nil
    }

    /// `differences` with `cause` filled for every one whose cause is known: `match(_:)`,
    /// then random file names (an added and a removed path in the same folder whose names are
    /// the same but for random-looking parts, both sides getting the cause).
    public static func annotate(_ differences: [FileDifference]) -> [FileDifference] {
        // Folder and name template of each added and removed path with a random-looking part.
        var templates: [FileDifference.Change: Set<String>] = [:]
        var keys: [String?] = []
        for difference in differences {
            var key: String?
            if difference.change != .changed, let template = randomNameTemplate(difference.path) {
                key = template
                templates[difference.change, default: []].insert(template)
            }
            keys.append(key)
        }
        let added = differences.filter { $0.change == .added }.map(\.path)
        let removed = differences.filter { $0.change == .removed }.map(\.path)
        return zip(differences, keys).map { difference, key in
            var annotated = difference
            if let cause = match(difference) {
                annotated.cause = cause
            } else if let key, templates[difference.change == .added ? .removed : .added]?.contains(key) == true {
                annotated.cause = randomName
            } else if difference.change != .changed,
                      (difference.change == .added ? removed : added).contains(where: { differOnlyInRandomParts($0, difference.path) }) {
                annotated.cause = randomName
            }
            return annotated
        }
    }

    /// True for two paths of one folder whose names split into the same tokens but for
    /// tokens of six or more ASCII letters and digits, of equal length, that differ in at
    /// least half of their positions: two draws of one mktemp template (`job.fGhjKLmn`,
    /// `job.q8rTbb2x`), which a version bump (`libicu72`, `libicu73`) is not.
    static func differOnlyInRandomParts(_ first: String, _ second: String) -> Bool {
        guard let a = first.lastIndex(of: "/"), let b = second.lastIndex(of: "/"), first[...a] == second[...b] else { return false }
        let separators: Set<Character> = [".", "-", "_"]
        let left = first[first.index(after: a)...].split(omittingEmptySubsequences: false, whereSeparator: separators.contains)
        let right = second[second.index(after: b)...].split(omittingEmptySubsequences: false, whereSeparator: separators.contains)
        guard left.count == right.count else { return false }
        var random = false
        for (x, y) in zip(left, right) where x != y {
            let xs = Array(x.utf8), ys = Array(y.utf8)
            let alphanumeric = { (byte: UInt8) in (0x30...0x39).contains(byte) || (0x41...0x5a).contains(byte) || (0x61...0x7a).contains(byte) }
            guard xs.count == ys.count, xs.count >= 6, xs.allSatisfy(alphanumeric), ys.allSatisfy(alphanumeric) else { return false }
            let differing = zip(xs, ys).filter { $0 != $1 }.count
            guard differing * 2 >= xs.count else { return false }
            random = true
        }
        return random
    }

    // MARK: - Random names

    /// The path with each random-looking part of its name replaced by `*`
    /// (`/run/tmp.Xa3bC9dE1f` -> `/run/tmp.*`), or nil when no part of the name looks random.
    static func randomNameTemplate(_ path: String) -> String? {
        guard let slash = path.lastIndex(of: "/") else { return nil }
        let folder = path[...slash]
        var template = ""
        var token = ""
        var replaced = false
        func flush() {
            if looksRandom(token) {
                template += "*"
                replaced = true
            } else {
                template += token
            }
            token = ""
        }
        for character in path[path.index(after: slash)...] {
            if character == "." || character == "-" || character == "_" {
                flush()
                template.append(character)
            } else {
                token.append(character)
            }
        }
        flush()
        return replaced ? folder + template : nil
    }

    /// A PID (three or more digits) or what mktemp's `XXXXXX` becomes: six or more ASCII
    /// letters and digits that switch between digits, lowercase and uppercase at least three
    /// times (`Xa3bC9`, `k2Jd8sLm0q`), which words with a version (`python3`, `libicu72`,
    /// `sha256sum`) do not.
    static func looksRandom(_ token: String) -> Bool {
        enum Class { case digit, lower, upper }
        var classes: [Class] = []
        for byte in token.utf8 {
            switch byte {
            case 0x30...0x39: classes.append(.digit)
            case 0x61...0x7a: classes.append(.lower)
            case 0x41...0x5a: classes.append(.upper)
            default: return false
            }
        }
        // Three digits: fewer could be a version number, and a PID inside a step's own PID
        // namespace that short would come out the same every build anyway.
        if classes.allSatisfy({ $0 == .digit }) { return classes.count >= 3 }
        // Six characters: mktemp's shortest template (XXXXXX).
        guard classes.count >= 6 else { return false }
        let switches = zip(classes, classes.dropFirst()).filter { $0 != $1 }.count
        // Three switches: a random draw from 62 characters almost always has them; a word
        // followed by a number (one switch) or with a number inside (two) does not.
        return switches >= 3
    }

    // MARK: - Timestamps in content

    /// A line of `ls -l` (or `ls -la`, `find -ls`): a file mode (`-rw-r--r--`, `drwxr-xr-x.`,
    /// `lrwxrwxrwx+`), and later a date as ls writes it (`Nov 14 22:13`, `Nov 14  2023`, or
    /// `2023-11-14 22:13` with `--time-style`).
    static func isListingLine(_ line: String) -> Bool {
        guard line.contains(#/(^|\s)[-dlcbps][-rwxsStT]{9}[.+@]?\s/#) else { return false }
        return line.contains(#/(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +[0-9]{1,2} +([0-9]{1,2}:[0-9]{2}|[0-9]{4}) /#)
            || line.contains(#/[12][0-9]{3}-[01][0-9]-[0-3][0-9] [0-9]{2}:[0-9]{2}/#)
    }

    /// True when at least one line differs and every differing line, on either side, holds
    /// something that looks like a time.
    static func onlyTimestampsDiffer(_ before: String, _ after: String) -> Bool {
        let (removed, inserted) = TextDiff.changedLines(before, after)
        let changed = removed + inserted
        return !changed.isEmpty && changed.allSatisfy(containsTimestamp)
    }

    /// A Unix time in seconds, milliseconds or nanoseconds (10, 13 or 19 digits starting with
    /// 1 or 2), an ISO 8601 date, an RFC 2822 date or `date`'s default output.
    static func containsTimestamp(_ line: String) -> Bool {
        if containsUnixTime(line) { return true }
        if line.contains(#/[12][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])/#) { return true }  // 2023-11-14
        if line.contains(#/[12][0-9]{3}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])T[0-9]{4}/#) { return true }  // 20231114T2213
        // RFC 2822: "Tue, 14 Nov 2023 22:13:20 +0000".
        if line.contains(#/(Mon|Tue|Wed|Thu|Fri|Sat|Sun), +[0-9]{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} [0-9]{2}:[0-9]{2}/#) {
            return true
        }
        // date(1) in the C locale: "Tue Nov 14 22:13:20 UTC 2023".
        return line.contains(#/(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +[0-9]{1,2} [0-9]{2}:[0-9]{2}:[0-9]{2}/#)
    }

    /// A run of 10, 13 or 19 digits starting with 1 or 2, not part of a longer run.
    static func containsUnixTime(_ line: String) -> Bool {
        var run: [UInt8] = []
        for byte in Array(line.utf8) + [0] {
            if byte >= 0x30 && byte <= 0x39 {
                run.append(byte)
                continue
            }
            // 10 digits: seconds (2001 to 2065); 13: milliseconds; 19: nanoseconds (date +%s%N).
            if [10, 13, 19].contains(run.count), run[0] == 0x31 || run[0] == 0x32 { return true }
            run.removeAll(keepingCapacity: true)
        }
        return false
    }
}
