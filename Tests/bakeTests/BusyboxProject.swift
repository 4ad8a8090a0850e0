import Foundation
import TestSupport

/// A project whose `tools` image is busybox-static on scratch, for tests of run steps.
enum BusyboxProject {
    static let applets = ["sh", "ls", "echo", "cat", "id", "hostname", "rm", "sleep", "wget", "mkdir", "touch", "test", "wc",
                          "grep", "true", "false", "env", "pwd", "ln", "chmod", "chown", "printf", "umask", "date", "sort", "tr", "mktemp"]

    /// The root file system of the tools image: /bin/busybox, its applets, /etc/passwd and /etc/group.
    static func rootfs(at path: String) throws {
        try BusyboxRoot.write(at: path, applets: applets)
        try Fixture.write(path + "/etc/old", "old\n")
        try Fixture.write(path + "/etc/doomed", "doomed\n")
    }

    /// `images/tools` plus the given stage files (`images/NAME/stage.yaml` -> text).
    static func write(at project: String, images: [String: String]) throws {
        try rootfs(at: project + "/images/tools/rootfs")
        try Fixture.write(project + "/images/tools/stage.yaml", """
            from: scratch
            steps:
              - copy: rootfs/
                to: /

            """)
        for (name, text) in images { try Fixture.write(project + "/images/\(name)/stage.yaml", text) }
    }

    /// How many lines of the store hold `text`: every file under .bake (blobs decompressed
    /// when gzip), so the layers, configs, build records and the cache are all searched.
    static func linesInTheStore(_ project: String, containing text: String) throws -> Int {
        let script = """
            cd "$PROJECT/.bake" && find . -type f | sort | while read -r f; do
              if gzip -t "$f" 2>/dev/null; then gzip -dc "$f"; else cat "$f"; fi
            done | grep -a -c -F -e "$TEXT"
            """
        let result = try Command.run(["sh", "-c", script], environment: ["PROJECT": project, "TEXT": text, "PATH": "/usr/bin:/bin"])
        guard let count = Int(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw FixtureError("searching the store failed: \(result.stderr)")
        }
        return count
    }
}
