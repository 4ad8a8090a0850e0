import Foundation
import TestSupport

/// Runs the `bake` binary that `swift build` put next to the test bundle.
enum BakeCLI {
    /// `BAKE_TEST_BINARY` runs the tests against another build of bake (an older one, to
    /// watch a regression test fail without its fix).
    static let binary: String = {
        if let override = ProcessInfo.processInfo.environment["BAKE_TEST_BINARY"], !override.isEmpty { return override }
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
    static func run(_ arguments: [String], in directory: String, environment: [String: String] = [:], stdin: String? = nil) throws -> CommandResult {
        try Command.run([binary] + arguments, in: directory, environment: baseEnvironment.merging(environment) { $1 }, stdin: stdin)
    }

    /// Runs bake under `sh -c` with a given umask.
    static func run(_ arguments: [String], in directory: String, umask: String, environment: [String: String] = [:]) throws -> CommandResult {
        let quoted = arguments.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        return try Command.run(["sh", "-c", "umask \(umask) && exec '\(binary)' \(quoted)"], in: directory,
                               environment: baseEnvironment.merging(environment) { $1 })
    }

    /// A copy of the repository's example pipeline (`images/`, on Debian) in a fresh folder.
    static func exampleProject(at path: String) throws {
        try Fixture.mkdir(path)
        try Fixture.copyTree(repository + "/images", to: path + "/images")
    }

    /// The toy pipeline (three images on scratch, copy and remove steps only) in a fresh folder.
    static func toyProject(at path: String) throws {
        try ToyProject.write(at: path)
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

extension BakeCLI {
    /// The JSON events of a `--progress json` run.
    static func events(_ output: String) -> [[String: Any]] {
        output.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// "image/step" -> "built" or "cached", from the step events of a run.
    static func steps(_ output: String) -> [String: String] {
        var result: [String: String] = [:]
        for event in events(output) where event["event"] as? String == "step" {
            result["\(event["image"] ?? "")/\(event["step"] ?? "")"] = event["status"] as? String
        }
        return result
    }

    /// Runs `bake --progress json build ARGS` and returns the step statuses.
    static func build(_ arguments: [String] = [], in directory: String, environment: [String: String] = [:]) throws -> [String: String] {
        let result = try run(["--progress", "json", "build"] + arguments, in: directory, environment: environment)
        guard result.status == 0 else { throw FixtureError("bake build failed: \(result.stderr)") }
        return steps(result.stdout)
    }
}
