import Foundation
import Layers
import Provisioners

/// What `bake run` was asked for beyond the image itself: each field overrides the image's
/// config or adds to it.
public struct RunOptions: Sendable {
    /// The command and its arguments instead of the image's cmd (empty: the image's).
    public var command: [String] = []
    /// `NAME=VALUE` entries over the image's env (`--env`).
    public var environment: [String] = []
    /// The command's memory and processes (`--memory`, `--pids`), also the ceiling.
    public var limits = ResourceLimits()
    /// `USER[:GROUP]` instead of the image's user (`--user`), resolved in the image.
    public var user: String?
    /// An absolute path instead of the image's workdir (`--workdir`).
    public var workdir: String?
    /// Host paths bound into the image (`--volume HOST:IMAGE[:ro]`, see `volume(parsing:)`).
    public var volumes: [BindMount] = []
    /// Seconds between the stop signal and SIGKILL (`--stop-timeout`; 10, as Docker).
    public var stopTimeout = RunOptions.defaultStopTimeout

    public static let defaultStopTimeout = 10

    public init() {}

    /// `HOST:IMAGE`, `HOST:IMAGE:ro` or `HOST:IMAGE:rw`. HOST must exist (relative to the
    /// current folder unless absolute); IMAGE must be absolute, is cleaned of "." and
    /// repeated slashes, and may not hold "..", be "/" or lie in /proc.
    public static func volume(parsing spec: String, currentDirectory: String? = nil) throws -> BindMount {
        let shown = "--volume \(spec)"
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 || (parts.count == 3 && ["ro", "rw"].contains(parts[2])), !parts[0].isEmpty, !parts[1].isEmpty else {
            throw PipelineError.badInput("\(shown) is not HOST:IMAGE, HOST:IMAGE:ro or HOST:IMAGE:rw")
        }
        if let bad = spec.unicodeScalars.first(where: { $0.value < 0x20 || $0.value == 0x7f }) {
            throw PipelineError.badInput("\(shown) holds the control character U+\(String(bad.value, radix: 16, uppercase: true)); paths must be plain text")
        }
        let target = parts[1]
        guard target.hasPrefix("/") else {
            throw PipelineError.badInput("\(shown): the path in the image must be absolute, like /\(target)")
        }
        // Cleaned as every image path is ("/a/./b/" is /a/b); ".." refused (NUL cannot be
        // in an argument, control characters are refused above).
        guard let path = try? RelativePath(target, allowAbsolute: true) else {
            throw PipelineError.badInput("\(shown): the path in the image must not contain '..'")
        }
        guard !path.isRoot else {
            throw PipelineError.badInput("\(shown): a volume cannot replace the image's root folder /")
        }
        guard path.components.first != Array("proc".utf8) else {
            throw PipelineError.badInput("\(shown): a volume cannot be mounted in /proc")
        }
        var source = parts[0]
        if !source.hasPrefix("/") {
            let folder = currentDirectory ?? FileManager.default.currentDirectoryPath
            source = (folder.hasSuffix("/") ? folder : folder + "/") + source
        }
        var status = stat()
        guard stat(source, &status) == 0 else {
            throw PipelineError.badInput("\(shown): the host path \(parts[0]) does not exist")
        }
        return BindMount(source: source, target: path.absoluteDescription, readOnly: parts.count == 3 && parts[2] == "ro")
    }

    /// `--workdir DIR`: absolute, plain text, cleaned like a volume's path.
    public static func workdir(parsing text: String) throws -> String {
        guard text.hasPrefix("/") else {
            throw PipelineError.badInput("--workdir \(text) must be an absolute path in the image, like /\(text)")
        }
        if text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) {
            throw PipelineError.badInput("--workdir holds a control character; paths must be plain text")
        }
        return text
    }

    /// `--stop-timeout SECONDS`: a whole number of seconds, 0 or more.
    public static func stopTimeout(parsing text: String) throws -> Int {
        guard let seconds = Int(text), seconds >= 0, seconds <= 1_000_000 else {
            throw PipelineError.badInput("--stop-timeout \(text) is not a whole number of seconds, like 10")
        }
        return seconds
    }
}
