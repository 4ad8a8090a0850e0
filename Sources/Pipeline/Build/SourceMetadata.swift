import Provisioners
import Layers
import OCI

/// Where the images' sources come from: written into every image as the OCI annotations
/// and labels `org.opencontainers.image.revision`, `.source` and `.version`.
///
/// Taken from `BAKE_REVISION`, `BAKE_SOURCE` and `BAKE_VERSION` when they are set (an empty
/// value leaves the field out), otherwise from git: the commit of HEAD when the project
/// folder has no uncommitted change (bake.lock and the store aside), the URL of the remote
/// `origin` without credentials, and a tag that points at HEAD. Outside a git work tree, or
/// without git, the fields are left out. The values are recorded with each build, so
/// `bake verify` rebuilds with the same ones.
public struct SourceMetadata: Sendable, Hashable, Codable {
    /// The git commit (full SHA-1 or SHA-256 hex).
    public var revision: String?
    /// The repository URL.
    public var source: String?
    /// A version name (the tag on the revision).
    public var version: String?

    public init(revision: String? = nil, source: String? = nil, version: String? = nil) {
        self.revision = revision
        self.source = source
        self.version = version
    }

    /// The environment variables that set each field, in a fixed order.
    public static let variables = ["BAKE_REVISION", "BAKE_SOURCE", "BAKE_VERSION"]

    /// The metadata of the project at `directory`.
    public static func discover(directory: String, environment: [String: String]) -> SourceMetadata {
        var metadata = SourceMetadata()
        if !variables.allSatisfy({ environment[$0] != nil }) {
            metadata = fromGit(directory: directory)
        }
        func value(_ name: String) -> String?? {
            guard let raw = environment[name] else { return .none }
            return .some(raw.isEmpty ? nil : raw)
        }
        if case .some(let revision) = value("BAKE_REVISION") { metadata.revision = revision }
        if case .some(let source) = value("BAKE_SOURCE") { metadata.source = source }
        if case .some(let version) = value("BAKE_VERSION") { metadata.version = version }
        return metadata
    }

    /// The variables that make another bake process use exactly these values.
    public var environment: [String: String] {
        ["BAKE_REVISION": revision ?? "", "BAKE_SOURCE": source ?? "", "BAKE_VERSION": version ?? ""]
    }

    static func fromGit(directory: String) -> SourceMetadata {
        guard let git = HostTool.path("git") else { return SourceMetadata() }
        func run(_ arguments: [String]) -> String? {
            // A fixed locale, so messages never matter; stdin is /dev/null, so git never asks.
            guard let result = try? HostTool.run([git, "-C", directory] + arguments, environment: ["LC_ALL": "C"]),
                  result.status == 0 else { return nil }
            return result.text
        }
        guard let head = run(["rev-parse", "--verify", "-q", "HEAD"]), !head.isEmpty,
              head.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
            return SourceMetadata()
        }
        var metadata = SourceMetadata()
        if let remote = run(["remote", "get-url", "origin"]), !remote.isEmpty {
            metadata.source = withoutCredentials(remote)
        }
        // Clean: nothing changed, staged or untracked under the project folder. bake.lock is
        // written by builds and the store by everything, so neither makes the tree dirty.
        guard let status = run(["status", "--porcelain", "--untracked-files=normal", "--", ".",
                                ":(exclude)bake.lock", ":(exclude).bake"]), status.isEmpty else {
            return metadata
        }
        metadata.revision = head
        if let tag = run(["describe", "--tags", "--exact-match", "HEAD"]), !tag.isEmpty {
            metadata.version = tag
        }
        return metadata
    }

    /// `https://user:token@host/repo` -> `https://host/repo`; other forms unchanged.
    static func withoutCredentials(_ url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        let hostEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        guard let at = rest[..<hostEnd].lastIndex(of: "@") else { return url }
        return String(url[..<scheme.upperBound]) + String(rest[rest.index(after: at)...])
    }
}
