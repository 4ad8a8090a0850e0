import Diagnostics
import Glibc
import Layers
import OCI

/// `DIR/bake.lock`: what the pipeline last built and the external upstreams it was built
/// from. Users commit it. Every build updates the entries of the images it built; `bake
/// build --locked` instead fails when a result differs from it; `bake update` moves the
/// external pins (a Debian release file), which is the only way they change.
///
/// JSON with sorted keys and two-space indentation, so a diff of it reads well in review.
public struct LockFile: Sendable, Hashable, Codable {
    /// One layer of a locked image.
    public struct Layer: Sendable, Hashable, Codable {
        /// The compressed blob's digest (as in the manifest).
        public var digest: Digest
        /// The uncompressed tar's digest (as in the config).
        public var diffID: Digest
    }

    /// One image of the pipeline.
    public struct Image: Sendable, Hashable, Codable {
        /// The manifest digest of the last build (nil once `bake update` moved a pin below it).
        public var manifest: Digest?
        /// The config digest.
        public var config: Digest?
        /// Every layer, base first.
        public var layers: [Layer]?
        /// The digest of the image's content without its build metadata (see
        /// `CacheKey.imageState`): what `--locked` compares when the revision moved on.
        public var content: Digest?
        /// The source metadata the image was built with.
        public var metadata: SourceMetadata?
        /// SOURCE_DATE_EPOCH of the build, when it was set.
        public var sourceDateEpoch: Int64?
        /// External pins of the image's base: `debian.release` (the InRelease sha256),
        /// `debian.date`, `debian.suite`, `debian.mirror`; `oci.digest` for an OCI layout.
        public var upstream: [String: String]?
        /// Packages an apt step installed, as name=version, by step number.
        public var packages: [String: [String]]?

        public init() {}

        /// True when the entry records a built result (not only pins).
        public var isBuilt: Bool { manifest != nil && layers != nil }
    }

    /// The lock format's version.
    public var lockVersion: Int
    /// Entries by image name.
    public var images: [String: Image]

    public init(images: [String: Image] = [:]) {
        self.lockVersion = Self.currentVersion
        self.images = images
    }

    /// The version this bake writes and reads.
    public static let currentVersion = 1

    /// `DIR/bake.lock`.
    public static func path(in directory: String) -> String { directory + "/bake.lock" }

    /// The lock of a project; nil when it has none. A lock that cannot be read is bad input.
    public static func load(directory: String) throws -> LockFile? {
        let path = path(in: directory)
        guard (try? FileSystem.lstatIfExists(path)) != nil else { return nil }
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.readFile(path, limit: 64 << 20)
        } catch LayersError.notRegularFile(_, let kind) {
            throw PipelineError.badInput("bake.lock is \(kind.article), not a regular file")
        } catch {
            throw ErrorWithContext("cannot read \(path)", cause: error, exitStatus: .badInput)
        }
        let lock: LockFile
        do {
            lock = try CanonicalJSON.decode(LockFile.self, from: bytes, kind: "bake.lock")
        } catch {
            throw PipelineError.badInput("bake.lock is not a lock file bake can read (\(error)); restore it from version control or delete it to start a new one")
        }
        guard lock.lockVersion == currentVersion else {
            throw PipelineError.badInput("bake.lock has lockVersion \(lock.lockVersion), but this bake reads version \(currentVersion); use a matching bake or delete bake.lock")
        }
        return lock
    }

    /// The lock's bytes: pretty JSON, sorted keys, a final newline.
    public func encoded() throws -> [UInt8] {
        try CanonicalJSON.encodePretty(self) + [0x0a]
    }

    /// Writes the lock atomically, unless the file already holds exactly these bytes.
    public func save(directory: String) throws {
        let path = Self.path(in: directory)
        let bytes = try encoded()
        if let existing = try? FileSystem.readFile(path, limit: 64 << 20), existing == bytes { return }
        do {
            // The temporary file sits beside the lock (same file system, so the rename is atomic).
            try FileSystem.replaceAtomically(path, temporaryFolder: directory) { file in
                try bytes.withUnsafeBytes { try file.writeAll($0) }
            }
        } catch {
            throw ErrorWithContext("cannot write \(path)", cause: error)
        }
    }

    /// Drops entries of images the project no longer has.
    mutating func keepOnly(_ names: Set<String>) {
        images = images.filter { names.contains($0.key) }
    }
}
