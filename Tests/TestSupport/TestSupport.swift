import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A folder under /tmp, removed (with everything in it) when the value goes away.
public final class TemporaryDirectory: @unchecked Sendable {
    public let path: String

    public init(_ label: String = "bake-test") {
        var template = Array("/tmp/\(label)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit {
        _ = try? Process.run(URL(fileURLWithPath: "/bin/rm"), arguments: ["-rf", path]).waitUntilExit()
    }

    /// `path/relative`.
    public func at(_ relative: String) -> String { path + "/" + relative }
}

/// Small file helpers for building fixtures.
public enum Fixture {
    /// Writes a file (creating folders) with the given permission bits.
    public static func write(_ path: String, _ contents: String, mode: Int = 0o644) throws {
        try write(path, Array(contents.utf8), mode: mode)
    }

    public static func write(_ path: String, _ bytes: [UInt8], mode: Int = 0o644) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        chmod(path, mode_t(mode))
    }

    /// Creates a folder (and its parents) with the given permission bits. A folder that
    /// already exists is left as it is: a test must never change the mode of /tmp or another
    /// folder of the host.
    public static func mkdir(_ path: String, mode: Int = 0o755) throws {
        guard !FileManager.default.fileExists(atPath: path) else { return }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        chmod(path, mode_t(mode))
    }

    public static func symlink(_ target: String, at path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        guard Glibc.symlink(target, path) == 0 else { throw FixtureError("symlink \(path): errno \(errno)") }
    }

    public static func hardlink(_ existing: String, at path: String) throws {
        guard Glibc.link(existing, path) == 0 else { throw FixtureError("link \(path): errno \(errno)") }
    }

    public static func read(_ path: String) throws -> String {
        try String(contentsOfFile: path, encoding: .utf8)
    }

    /// Sets the modification time of a path (not following symlinks).
    public static func setMtime(_ path: String, seconds: Int) {
        var times = [timespec(tv_sec: seconds, tv_nsec: 0), timespec(tv_sec: seconds, tv_nsec: 0)]
        utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW)
    }

    /// Copies a folder tree with `cp -a`.
    public static func copyTree(_ from: String, to: String) throws {
        let result = try Command.run(["cp", "-a", from, to])
        guard result.status == 0 else { throw FixtureError("cp -a \(from) \(to): \(result.stderr)") }
    }
}

public struct FixtureError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The result of a finished subprocess.
public struct CommandResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
}

/// Runs programs, capturing their output through files (no pipe can fill up and block).
public enum Command {
    @discardableResult
    public static func run(
        _ arguments: [String], in directory: String? = nil, environment: [String: String]? = nil, stdin: String? = nil
    ) throws -> CommandResult {
        let scratch = TemporaryDirectory("bake-cmd")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        if let environment { process.environment = environment }
        _ = FileManager.default.createFile(atPath: scratch.at("out"), contents: nil)
        _ = FileManager.default.createFile(atPath: scratch.at("err"), contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: scratch.at("out")))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: scratch.at("err")))
        process.standardOutput = out
        process.standardError = err
        if let stdin {
            try Fixture.write(scratch.at("in"), stdin)
            process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: scratch.at("in")))
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        try process.run()
        process.waitUntilExit()
        try out.close()
        try err.close()
        return CommandResult(
            status: process.terminationStatus,
            stdout: (try? String(contentsOfFile: scratch.at("out"), encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: scratch.at("err"), encoding: .utf8)) ?? ""
        )
    }

    /// Runs `sh -c script`.
    @discardableResult
    public static func shell(_ script: String, in directory: String? = nil, environment: [String: String]? = nil) throws -> CommandResult {
        try run(["sh", "-c", script], in: directory, environment: environment)
    }
}

/// What the machine offers to tests that need root or a tool.
public enum Host {
    /// True when running as root.
    public static var isRoot: Bool { geteuid() == 0 }

    /// Set in CI (`.ci/run` exports BAKE_TEST_REQUIRE_ALL=1): tests that would be skipped
    /// for a missing tool or missing root run anyway and fail, so nothing is skipped there.
    public static var requireAll: Bool { ProcessInfo.processInfo.environment["BAKE_TEST_REQUIRE_ALL"] == "1" }

    /// True when `name` is on PATH.
    public static func hasTool(_ name: String) -> Bool {
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        return paths.contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(name)") }
    }

    /// For `.enabled(if:)`: the tools are present (or CI demands the test run regardless).
    public static func canRun(tools: [String] = [], root: Bool = false) -> Bool {
        if requireAll { return true }
        return tools.allSatisfy(hasTool) && (!root || isRoot)
    }
}

extension Command {
    /// Runs a program and also returns its peak resident memory in KiB, for tests that bound
    /// memory rather than time. The program is started by a small Python parent and its
    /// peak read from that parent's `RUSAGE_CHILDREN`: a process spawned straight from the
    /// test runner (vfork + exec) would report the runner's own high-water mark as its own.
    public static func runMeasuringMemory(
        _ arguments: [String], in directory: String, environment: [String: String]
    ) throws -> (result: CommandResult, peakKiB: Int) {
        let scratch = TemporaryDirectory("bake-cmd")
        let script = """
            import resource, subprocess, sys
            status = subprocess.call(sys.argv[2:])
            open(sys.argv[1], "w").write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
            sys.exit(status)
            """
        let result = try run(["python3", "-c", script, scratch.at("peak")] + arguments, in: directory, environment: environment)
        guard let peak = Int((try? String(contentsOfFile: scratch.at("peak"), encoding: .utf8)) ?? "") else {
            throw FixtureError("no peak memory measured: \(result.stderr)")
        }
        return (result, peak)
    }
}
