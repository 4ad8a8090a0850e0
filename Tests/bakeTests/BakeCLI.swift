import Foundation
import TestSupport

/// Runs the `bake` binary that `swift build` put next to the test bundle.
enum BakeCLI {
    static let binary: String = {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("bake").path
    }()

    /// The repository's root (for the example images/).
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    static let baseEnvironment: [String: String] = [
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": ProcessInfo.processInfo.environment["HOME"] ?? "/root",
        "LC_ALL": "C.UTF-8",
    ]

    @discardableResult
    static func run(_ arguments: [String], in directory: String, environment: [String: String] = [:]) throws -> CommandResult {
        try Command.run([binary] + arguments, in: directory, environment: baseEnvironment.merging(environment) { $1 })
    }

    /// Runs bake under `sh -c` with a given umask.
    static func run(_ arguments: [String], in directory: String, umask: String, environment: [String: String] = [:]) throws -> CommandResult {
        let quoted = arguments.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        return try Command.run(["sh", "-c", "umask \(umask) && exec '\(binary)' \(quoted)"], in: directory,
                               environment: baseEnvironment.merging(environment) { $1 })
    }

    /// A copy of the repository's example pipeline in a fresh folder.
    static func exampleProject(at path: String) throws {
        try Fixture.mkdir(path)
        try Fixture.copyTree(repository + "/images", to: path + "/images")
    }

    /// `name digest` lines printed by `bake build`.
    static func digests(_ output: String) -> [String: String] {
        var result: [String: String] = [:]
        for line in output.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, parts[1].hasPrefix("sha256:") { result[String(parts[0])] = String(parts[1]) }
        }
        return result
    }
}
