import Layers
import OCI

/// An external upstream of an image (a Debian release) as bake.lock pins it and as it is now.
public struct UpstreamStatus: Sendable, Encodable {
    /// The image whose base it is.
    public var image: String
    /// `debian bookworm from http://deb.debian.org/debian`.
    public var upstream: String
    /// The pins bake.lock holds (nil when it pins nothing yet).
    public var pinned: [String: String]?
    /// The pins as upstream answers now.
    public var current: [String: String]
    /// The image and every image built on it: what a moved pin rebuilds.
    public var affects: [String]

    /// True when upstream has moved on from the pin.
    public var isOutdated: Bool {
        pinned != nil && Upstreams.identities.contains { pinned?[$0] != current[$0] }
    }
    /// True when bake.lock pins nothing for it yet.
    public var isUnpinned: Bool { pinned == nil }

    /// `sha256:abc… (2024-06-29T10:00:00Z)` for one side.
    public static func summary(_ pins: [String: String]?) -> String {
        guard let pins else { return "nothing" }
        if let digest = pins[RegistryBaseImporter.digestKey] { return digest }
        let digest = pins[Upstreams.identity].flatMap { try? Digest(parsing: $0) }
        return "InRelease \(digest?.short ?? pins[Upstreams.identity] ?? "?") (\(pins["debian.date"] ?? "?"))"
    }
}

/// `bake outdated` and `bake update`: external pins (a Debian release, the digest a
/// registry tag names) against what upstream serves now.
public enum Upstreams {
    /// The pin that identifies a Debian release.
    static let identity = "debian.release"
    /// The pins whose change means an upstream moved.
    static let identities = [identity, RegistryBaseImporter.digestKey]

    /// Every external upstream of `targets` and the images they are built on.
    public static func check(
        workspace: Workspace, project: Project, targets: [String], access: RegistryAccess = RegistryAccess()
    ) throws -> [UpstreamStatus] {
        let order = try project.buildOrder(for: targets)
        let lock = try LockFile.load(directory: project.directory)
        var statuses: [UpstreamStatus] = []
        for name in order {
            let stage = project.stages[name]!
            if case .registry(let text) = stage.base {
                // A digest reference pins itself; a tag is pinned by bake.lock.
                guard let reference = try? Reference(parsing: text), reference.digest == nil else { continue }
                let repository = reference.repository
                let tag = reference.manifestReference
                let digest = try access.with(host: reference.host) { client in
                    try await client.manifest(repository, reference: tag).digest
                }
                let current = [RegistryBaseImporter.referenceKey: text, RegistryBaseImporter.digestKey: digest.description]
                let recorded = lock?.images[name]?.upstream
                let pinned = recorded?[RegistryBaseImporter.referenceKey] == text ? recorded : nil
                statuses.append(UpstreamStatus(image: name, upstream: text, pinned: pinned, current: current,
                                               affects: downstream(of: name, in: project)))
                continue
            }
            guard case .debian(let debian) = stage.base else { continue }
            let mirror = debian.mirror ?? DebianBaseBuilder.defaultMirror
            let release = try DebianBaseBuilder.fetchRelease(mirror: mirror, suite: debian.suite, location: stage.baseLocation)
            let current = DebianBaseBuilder.pins(release, mirror: mirror, suite: debian.suite)
            let pinned = DebianBaseBuilder.pinned(lock?.images[name]?.upstream, mirror: mirror, suite: debian.suite)
                .map { DebianBaseBuilder.pins($0, mirror: mirror, suite: debian.suite) }
            statuses.append(UpstreamStatus(image: name, upstream: "debian \(debian.suite) from \(mirror)", pinned: pinned,
                                           current: current, affects: downstream(of: name, in: project)))
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
