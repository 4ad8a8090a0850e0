/// The environment every command in a sandbox gets: the image's own, then fixed values, so
/// that no step sees the host's (DESIGN.md, determinism rules).
public enum SandboxEnvironment {
    /// The PATH a command gets when the image sets none.
    public static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// Where a command's PATH comes from.
    public enum PathSource: Sendable {
        /// Always `defaultPath`: steps, so that a step's layer never depends on it.
        case fixed
        /// The image's `PATH` when its config sets one (`env: {PATH: /opt/venv/bin:...}`),
        /// else `defaultPath`: checks, which run the image as it will run.
        case image
    }

    /// `image` (NAME=value entries), then the fixed values, then `extra`; a later entry
    /// replaces an earlier one of the same name.
    public static func make(image: [String], home: String, epoch: Int64, extra: [String] = [], path: PathSource = .fixed) -> [String] {
        var entries = image.map(split)
        let imagePath = entries.last { $0.0 == "PATH" && !$0.1.isEmpty }?.1
        let fixed: [(String, String)] = [
            ("PATH", path == .image ? imagePath ?? defaultPath : defaultPath),
            ("HOME", home),
            ("TZ", "UTC"),
            ("LC_ALL", "C.UTF-8"),
            ("LANG", "C.UTF-8"),
            // Tools that honour it (dpkg, gzip, python...) write it instead of the clock.
            ("SOURCE_DATE_EPOCH", String(epoch)),
        ]
        for (key, value) in fixed + extra.map(split) {
            entries.removeAll { $0.0 == key }
            entries.append((key, value))
        }
        return entries.map { "\($0.0)=\($0.1)" }
    }

    private static func split(_ entry: String) -> (String, String) {
        let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
    }
}
