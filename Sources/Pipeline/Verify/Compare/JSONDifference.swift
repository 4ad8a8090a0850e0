import Foundation

/// Differences between two JSON documents (image configs, manifests), one line per differing
/// value, named by its JSON path:
///
/// ```
/// $.config.Env[2]: "A=1" -> "A=2"
/// $.config.Labels["org.opencontainers.image.revision"]: (none) -> "abc"
/// ```
///
/// Objects are compared key by key in the byte order of the keys; arrays index by index, so
/// an element added at the end shows as `(none) -> value`. Values are shown as compact JSON
/// with sorted keys; a value present on one side only shows the other as `(none)`.
public enum JSONDifference {
    /// Most lines returned: enough to read a change, few enough for a terminal or a log.
    public static let defaultLimit = 200

    /// The differences between two JSON documents, in document order (keys sorted). `what`
    /// names the documents in errors ("image config"). At most `limit` lines are returned;
    /// when there are more, the last line is `... N more differences`.
    public static func compare(
        _ before: [UInt8], _ after: [UInt8], what: String = "JSON document", limit: Int = defaultLimit
    ) throws -> [String] {
        let old = try parse(before, what: "the first \(what)")
        let new = try parse(after, what: "the second \(what)")
        var lines: [String] = []
        try compare(old, new, path: "$", into: &lines)
        guard lines.count > limit else { return lines }
        let kept = max(0, limit)
        return Array(lines.prefix(kept)) + ["... \(lines.count - kept) more differences"]
    }

    private static func parse(_ bytes: [UInt8], what: String) throws -> Any {
        do {
            return try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        } catch {
            throw PipelineError.failed("\(what) is not valid JSON: \(error.localizedDescription)")
        }
    }

    private static func compare(_ old: Any?, _ new: Any?, path: String, into lines: inout [String]) throws {
        if let old = old as? [String: Any], let new = new as? [String: Any] {
            let keys = Set(old.keys).union(new.keys).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            for key in keys {
                try compare(old[key], new[key], path: path + (try member(key)), into: &lines)
            }
            return
        }
        if let old = old as? [Any], let new = new as? [Any] {
            for index in 0..<max(old.count, new.count) {
                try compare(index < old.count ? old[index] : nil, index < new.count ? new[index] : nil,
                            path: "\(path)[\(index)]", into: &lines)
            }
            return
        }
        let oldText = try old.map(compact) ?? "(none)"
        let newText = try new.map(compact) ?? "(none)"
        if oldText != newText { lines.append("\(path): \(oldText) -> \(newText)") }
    }

    /// `.key` for a key that is an identifier, `["key"]` (a JSON string) for any other.
    private static func member(_ key: String) throws -> String {
        let startsWell = key.utf8.first.map { !isDigit($0) } ?? false
        let identifier = startsWell && key.utf8.allSatisfy { byte in
            let lower = byte | 0x20  // ASCII letters differ from their lowercase by this bit only
            return isDigit(byte) || (lower >= 0x61 && lower <= 0x7a) || byte == 0x5f
        }
        return identifier ? "." + key : "[" + (try compact(key)) + "]"
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    /// A value as compact JSON: sorted keys (so equal objects print equally), no escaped slashes.
    private static func compact(_ value: Any) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}
