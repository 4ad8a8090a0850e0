import OCI

/// Applies a stage's `config:` over its parent's image config.
enum ConfigMerge {
    /// Maps (env, labels) merge key by key, a nil value removing the key; other fields
    /// replace the parent's when set. As in Dockerfiles, setting `entrypoint` without
    /// `cmd` clears the parent's `cmd`, which was written for the parent's entrypoint.
    static func apply(_ patch: ConfigPatch, to parent: ContainerConfig?) -> ContainerConfig? {
        var config = parent ?? ContainerConfig()
        if !patch.env.isEmpty {
            var entries: [(String, String)] = (config.env ?? []).map { entry in
                let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
            }
            var added: [(String, String)] = []
            for (key, value) in patch.env {
                if let index = entries.firstIndex(where: { $0.0 == key }) {
                    if let value { entries[index].1 = value } else { entries.remove(at: index) }
                } else if let addedIndex = added.firstIndex(where: { $0.0 == key }) {
                    if let value { added[addedIndex].1 = value } else { added.remove(at: addedIndex) }
                } else if let value {
                    added.append((key, value))
                }
            }
            // New variables go after the parent's, sorted, so key order in YAML changes nothing.
            added.sort { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
            let merged = (entries + added).map { "\($0.0)=\($0.1)" }
            config.env = merged.isEmpty ? nil : merged
        }
        if let workdir = patch.workdir { config.workingDir = workdir }
        if let user = patch.user { config.user = user }
        if let entrypoint = patch.entrypoint {
            config.entrypoint = entrypoint
            if patch.cmd == nil { config.cmd = nil }
        }
        if let cmd = patch.cmd { config.cmd = cmd }
        if let ports = patch.ports {
            var exposed: [String: EmptyObject] = [:]
            for port in ports { exposed[port] = EmptyObject() }
            config.exposedPorts = exposed.isEmpty ? nil : exposed
        }
        if !patch.labels.isEmpty {
            var labels = config.labels ?? [:]
            for (key, value) in patch.labels { labels[key] = value }
            config.labels = labels.isEmpty ? nil : labels
        }
        if let signal = patch.stopSignal { config.stopSignal = signal }
        if let healthcheck = patch.healthcheck { config.healthcheck = healthcheck }
        if let volumes = patch.volumes {
            var mounts: [String: EmptyObject] = [:]
            for volume in volumes { mounts[volume] = EmptyObject() }
            config.volumes = mounts.isEmpty ? nil : mounts
        }
        return config.isEmpty ? nil : config
    }
}
