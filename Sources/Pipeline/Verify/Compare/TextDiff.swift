/// Unified diffs of two texts, in the format of `diff -u` (GNU diffutils): a `--- a/PATH`
/// and `+++ b/PATH` header, then `@@ -start,count +start,count @@` hunks with three lines
/// of context, `-` for lines only before, `+` for lines only after, and
/// `\ No newline at end of file` after a last line that has no newline.
///
/// The edit script comes from the standard library's `CollectionDifference` (a minimal
/// Myers diff of the two line arrays), so the same inputs always give the same lines.
public enum TextDiff {
    /// Lines of context around each change: what `diff -u` shows.
    public static let defaultContext = 3
    /// Most lines returned: enough to read a change, few enough for a terminal or a log.
    public static let defaultLimit = 200

    /// The unified diff of `before` and `after`, or no lines when they are equal.
    ///
    /// `path` names the file in the header (`--- a/PATH`, `+++ b/PATH`; a leading `/` is
    /// dropped, as git does). At most `limit` lines are returned; when there are more, the
    /// last line is `... N more lines`.
    public static func unified(
        _ before: String, _ after: String, path: String,
        context: Int = defaultContext, limit: Int = defaultLimit
    ) -> [String] {
        let old = lines(before)
        let new = lines(after)
        let script = editScript(old, new)
        guard script.contains(where: { $0.kind != .same }) else { return [] }

        var name = Substring(path)
        while name.first == "/" { name = name.dropFirst() }
        var output = ["--- a/\(name)", "+++ b/\(name)"]
        for hunk in hunks(script, context: max(0, context)) {
            output.append(header(hunk, script: script))
            for operation in script[hunk] {
                switch operation.kind {
                case .same: output.append(" " + old[operation.old].text)
                case .removed: output.append("-" + old[operation.old].text)
                case .inserted: output.append("+" + new[operation.new].text)
                }
                let line = operation.kind == .inserted ? new[operation.new] : old[operation.old]
                if !line.terminated { output.append("\\ No newline at end of file") }
            }
        }
        guard output.count > limit else { return output }
        let kept = max(0, limit)
        return Array(output.prefix(kept)) + ["... \(output.count - kept) more lines"]
    }

    /// The lines only in `before` and the lines only in `after` (without their newlines), in
    /// order: what changed, for callers that judge a change rather than show it.
    static func changedLines(_ before: String, _ after: String) -> (removed: [String], inserted: [String]) {
        let old = lines(before)
        let new = lines(after)
        var removed: [String] = []
        var inserted: [String] = []
        for operation in editScript(old, new) {
            switch operation.kind {
            case .same: break
            case .removed: removed.append(old[operation.old].text)
            case .inserted: inserted.append(new[operation.new].text)
            }
        }
        return (removed, inserted)
    }

    // MARK: - Lines and edit scripts

    /// One line of a text; a last line without a newline differs from the same text with one,
    /// as it does for `diff`.
    struct Line: Hashable {
        var text: String
        var terminated: Bool
    }

    /// Splits a text at `\n` (a `\r` stays part of its line).
    static func lines(_ text: String) -> [Line] {
        var result: [Line] = []
        var rest = Substring(text)
        while let newline = rest.firstIndex(of: "\n") {
            result.append(Line(text: String(rest[..<newline]), terminated: true))
            rest = rest[rest.index(after: newline)...]
        }
        if !rest.isEmpty { result.append(Line(text: String(rest), terminated: false)) }
        return result
    }

    /// One step of an edit script: a line kept (`old` and `new` both valid), removed (`old`
    /// valid) or inserted (`new` valid). `old` and `new` are also the positions reached in
    /// each text, which hunk headers need.
    struct Operation {
        enum Kind { case same, removed, inserted }
        var kind: Kind
        var old: Int
        var new: Int
    }

    /// The edit script turning `old` into `new`; at each point removals come before
    /// insertions, as `diff -u` prints them.
    static func editScript(_ old: [Line], _ new: [Line]) -> [Operation] {
        let difference = new.difference(from: old)
        var removed = Set<Int>()
        var inserted = Set<Int>()
        for change in difference {
            switch change {
            case .remove(let offset, _, _): removed.insert(offset)
            case .insert(let offset, _, _): inserted.insert(offset)
            }
        }
        var script: [Operation] = []
        script.reserveCapacity(old.count + inserted.count)
        var i = 0
        var j = 0
        while i < old.count || j < new.count {
            if i < old.count && removed.contains(i) {
                script.append(Operation(kind: .removed, old: i, new: j))
                i += 1
            } else if j < new.count && inserted.contains(j) {
                script.append(Operation(kind: .inserted, old: i, new: j))
                j += 1
            } else if i < old.count && j < new.count {
                // What neither removes nor inserts is common to both, in the same order.
                script.append(Operation(kind: .same, old: i, new: j))
                i += 1
                j += 1
            } else {
                break  // unreachable for a consistent difference; never loop forever
            }
        }
        return script
    }

    /// Ranges of the script to print: each change with `context` kept lines around it,
    /// ranges closer than twice the context merged, as `diff -u` does.
    static func hunks(_ script: [Operation], context: Int) -> [Range<Int>] {
        var result: [Range<Int>] = []
        var current: Range<Int>?
        for (index, operation) in script.enumerated() where operation.kind != .same {
            let lower = max(0, index - context)
            let upper = min(script.count, index + 1 + context)
            if let range = current, lower <= range.upperBound {
                current = range.lowerBound..<max(range.upperBound, upper)
            } else {
                if let range = current { result.append(range) }
                current = lower..<upper
            }
        }
        if let range = current { result.append(range) }
        return result
    }

    /// `@@ -start,count +start,count @@`; a count of 1 is left out and an empty range starts
    /// at the line before it, as in `diff -u`.
    static func header(_ hunk: Range<Int>, script: [Operation]) -> String {
        let operations = script[hunk]
        let oldCount = operations.filter { $0.kind != .inserted }.count
        let newCount = operations.filter { $0.kind != .removed }.count
        let first = script[hunk.lowerBound]
        func range(_ start: Int, _ count: Int) -> String {
            switch count {
            case 0: return "\(start),0"
            case 1: return "\(start + 1)"
            default: return "\(start + 1),\(count)"
            }
        }
        return "@@ -\(range(first.old, oldCount)) +\(range(first.new, newCount)) @@"
    }
}
