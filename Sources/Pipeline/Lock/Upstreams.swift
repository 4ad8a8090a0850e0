import Layers
import OCI
import Provisioners

/// `bake outdated` and `bake update`: external pins (a Debian release, the digest a
/// registry tag names) against what upstream serves now.
public enum Upstreams {
    /// The pin that identifies a Debian release.
    static let identity = "debian.release"
    /// The pins whose change means an upstream moved.
    static let identities = [identity, RegistryImageBase.digestKey]

    /// Every external upstream of `targets` and the images they are built on.
    public static func check(
        workspace: Workspace, project: Project, targets: [String], access: RegistryAccess = RegistryAccess()
    ) throws -> [UpstreamStatus] {
        let order = try project.buildOrder(for: targets)
        let lock = try LockFile.load(directory: project.directory)
        var statuses: [UpstreamStatus] = []
        let fetcher = RegistryImageFetcher(access: access, store: workspace.store)
        defer { fetcher.shutdown() }
        for name in order {
            let stage = project.stages[name]!
            // Only bases whose upstream can move: a Debian suite, a registry tag.
            guard case .source(let source) = stage.base, let upstream = source.upstream else { continue }
            let context = BaseContext(store: workspace.store, image: name, buildContext: stage.buildContext, pins: nil, build: true,
                                      hasher: InputHasher(store: workspace.store), fetcher: fetcher)
            let current = try ImageWalker.mappingBaseErrors(stage) { try source.current(context) }
            let pinned = source.pinned(lock?.images[name]?.upstream)
            statuses.append(UpstreamStatus(image: name, upstream: upstream, pinned: pinned?.values, current: current.values,
                                           affects: downstream(of: name, in: project)))
        }
        return statuses
    }

    /// Moves the pins of `targets` (and the images they are built on) to what upstream
    /// serves now and writes bake.lock. An image whose pin moved, and every image built on
    /// it, loses its recorded result: it no longer describes what the pins build.
    public static func update(
        workspace: Workspace, project: Project, targets: [String], access: RegistryAccess = RegistryAccess()
    ) throws -> [UpstreamStatus] {
        let storeLock = workspace.store.exists ? try workspace.store.lock(exclusive: true) { workspace.onLockWait(workspace.store.lockPath) } : nil
        defer { withExtendedLifetime(storeLock) {} }
        let statuses = try check(workspace: workspace, project: project, targets: targets, access: access)
        var lock = try LockFile.load(directory: project.directory) ?? LockFile()
        var changed = false
        for status in statuses where status.isOutdated || status.isUnpinned {
            var entry = lock.images[status.image] ?? LockFile.Image()
            entry.upstream = status.current
            lock.images[status.image] = entry
            changed = true
            guard status.isOutdated else { continue }
            for name in status.affects {
                guard var stale = lock.images[name] else { continue }
                stale.manifest = nil
                stale.config = nil
                stale.layers = nil
                stale.content = nil
                stale.packages = nil
                lock.images[name] = stale
            }
        }
        if changed { try lock.save(directory: project.directory) }
        return statuses
    }

    /// `name` and every image built on it, in build order.
    static func downstream(of name: String, in project: Project) -> [String] {
        var result = [name]
        var index = 0
        while index < result.count {
            result += project.children(of: result[index]).filter { !result.contains($0) }
            index += 1
        }
        return (try? project.buildOrder(for: result).filter { result.contains($0) }) ?? result
    }
}
