import OCI
import Provisioners

/// Config changes over the parent's image config. Maps (env, labels) merge key by key,
/// a nil value removing the key; every other field replaces the parent's when set.
public struct ConfigPatch: Sendable, Hashable {
    public var env: [(String, String?)] = []
    public var workdir: String?
    public var user: String?
    public var entrypoint: [String]?
    public var cmd: [String]?
    public var ports: [String]?
    public var labels: [(String, String?)] = []
    public var stopSignal: String?
    /// `Healthcheck` of the image config, replacing the parent's (`test: [NONE]` turns it off).
    public var healthcheck: Healthcheck?
    /// Absolute paths, the image config's `Volumes`, replacing the parent's (`[]`: none).
    public var volumes: [String]?

    public init() {}

    public static func == (lhs: ConfigPatch, rhs: ConfigPatch) -> Bool {
        lhs.env.elementsEqual(rhs.env, by: { $0.0 == $1.0 && $0.1 == $1.1 })
            && lhs.labels.elementsEqual(rhs.labels, by: { $0.0 == $1.0 && $0.1 == $1.1 })
            && lhs.workdir == rhs.workdir && lhs.user == rhs.user && lhs.entrypoint == rhs.entrypoint
            && lhs.cmd == rhs.cmd && lhs.ports == rhs.ports && lhs.stopSignal == rhs.stopSignal
            && lhs.healthcheck == rhs.healthcheck && lhs.volumes == rhs.volumes
    }

    public func hash(into hasher: inout Hasher) {
        for (key, value) in env { hasher.combine(key); hasher.combine(value) }
        for (key, value) in labels { hasher.combine(key); hasher.combine(value) }
        hasher.combine(workdir)
        hasher.combine(user)
        hasher.combine(entrypoint)
        hasher.combine(cmd)
        hasher.combine(ports)
        hasher.combine(stopSignal)
        hasher.combine(healthcheck)
        hasher.combine(volumes)
    }
}
