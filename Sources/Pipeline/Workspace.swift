import Glibc
import Layers

/// A project folder and its store: what every command starts from.
public struct Workspace: Sendable {
    /// The project folder (absolute), holding `images/`.
    public let directory: String
    /// The store (`DIR/.bake` unless `--store` says otherwise).
    public let store: ContentStore
    /// Called with the lock file's path when another bake process holds the store and this
    /// one has to wait for it.
    public var onLockWait: @Sendable (String) -> Void = { _ in }
    /// Called with a sentence the user should read that does not stop the command (an
    /// unpacked layer found changed and unpacked again).
    public var onWarning: @Sendable (String) -> Void = { _ in }

    /// `directory` defaults to the current folder, `storePath` to `DIR/.bake`.
    public init(directory: String?, storePath: String?) throws {
        let cwd = Self.currentDirectory()
        let dir = Self.absolute(directory ?? ".", relativeTo: cwd)
        guard let status = try? FileSystem.statPath(dir), status.kind == .directory else {
            throw PipelineError.badInput("project folder \(directory ?? dir) does not exist")
        }
        self.directory = dir
        self.store = ContentStore(root: Self.absolute(storePath ?? dir + "/.bake", relativeTo: cwd))
    }

    /// Loads and validates every stage file.
    public func loadProject() throws -> Project {
        try Project.load(directory: directory)
    }

    /// Takes the store lock for reading (shared with other readers).
    func readLock() throws -> StoreLock {
        try store.lock(exclusive: false) { onLockWait(store.lockPath) }
    }

    /// Fails with a clear sentence when there is no store yet, or one without its layout
    /// file (which `bake fsck --repair` writes again).
    func requireStore() throws {
        guard store.exists else {
            if (try? FileSystem.lstatIfExists(store.layoutPath))?.kind == .directory {
                throw PipelineError.failed("the store \(store.root) has no \(store.layoutPath)/oci-layout; run 'bake fsck --repair' to write it")
            }
            throw PipelineError.badInput("there is no bake store at \(store.root) yet; run 'bake build' first")
        }
    }

    static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return "/" }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func absolute(_ path: String, relativeTo base: String) -> String {
        var joined = path.hasPrefix("/") ? path : (base == "/" ? "/" : base + "/") + path
        // Lexical clean-up only: "a/./b" and trailing slashes, never resolving symlinks.
        var parts: [Substring] = []
        for part in joined.split(separator: "/") {
            if part == "." { continue }
            if part == "..", !parts.isEmpty { parts.removeLast(); continue }
            if part == ".." { continue }
            parts.append(part)
        }
        joined = "/" + parts.joined(separator: "/")
        return joined
    }
}
