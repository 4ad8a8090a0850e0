/// A validated stage file: one image of the pipeline (`images/NAME/stage.yaml`).
public struct Stage: Sendable {
    /// The image name (its folder's name).
    public var name: String
    /// Absolute host path of the image's folder, the build context.
    public var directory: String
    /// The stage file's path relative to the project folder, for messages.
    public var file: String
    /// Free text; display only, never part of a cache key or an image.
    public var description: String?
    /// What the image is built on.
    public var base: BaseSource
    /// Where `from:` is written.
    public var baseLocation: SourceLocation
    /// The steps, in order; each yields at most one layer.
    public var steps: [Step]
    /// Image config changes, applied over the parent's config.
    public var config: ConfigPatch
    /// Commands run in the finished image.
    public var checks: [Check]
}

/// What an image is built on.
public enum BaseSource: Sendable, Hashable, CustomStringConvertible {
    /// Nothing: an empty root.
    case scratch
    /// Another image of the pipeline.
    case stage(String)
    /// A Debian root made by mmdebstrap.
    case debian(DebianBase)
    /// An image in a registry, `host/repo@sha256:...` or with a tag.
    case registry(String)
    /// An image in an OCI layout folder.
    case ociLayout(path: String, ref: String)
    /// A root file system tarball.
    case rootfs(path: String)

    public var description: String {
        switch self {
        case .scratch: return "scratch"
        case .stage(let name): return name
        case .debian(let debian): return "debian \(debian.suite) (\(debian.variant))"
        case .registry(let reference): return reference
        case .ociLayout(let path, let ref): return "oci \(path) \(ref)"
        case .rootfs(let path): return "rootfs \(path)"
        }
    }
}

/// `from: {debian: {...}}`.
public struct DebianBase: Sendable, Hashable {
    public var suite: String
    public var variant: String
    public var packages: [String]
    public var mirror: String?
}

/// One step of a stage.
public struct Step: Sendable, Hashable {
    /// 1-based position in the stage.
    public var number: Int
    /// Where the step starts in the stage file.
    public var location: SourceLocation
    /// What the step does.
    public var action: StepAction
}

/// The kinds of step.
public enum StepAction: Sendable, Hashable {
    case copy(CopyStep)
    case run(RunStep)
    case apt([String])
    case remove([String])

    /// The step kind's key in the stage file.
    public var kind: String {
        switch self {
        case .copy: return "copy"
        case .run: return "run"
        case .apt: return "apt"
        case .remove: return "remove"
        }
    }

    /// A one-line summary for plans, progress and image history. It is derived from the
    /// step's meaning only, never from formatting, so it is safe to put into an image.
    public var summary: String {
        switch self {
        case .copy(let copy):
            var text = "copy \(copy.source) \(copy.to)"
            if let mode = copy.mode { text += " mode=" + CopyStep.octal(mode) }
            if let owner = copy.owner { text += " owner=\(owner)" }
            return text
        case .run(let run):
            let lines = run.script.split(separator: "\n", omittingEmptySubsequences: true)
            var text = "run " + (lines.first.map(String.init) ?? "")
            if lines.count > 1 { text += " ..." }
            if run.network { text += " (network)" }
            return text
        case .apt(let packages):
            return "apt " + packages.joined(separator: " ")
        case .remove(let paths):
            return "remove " + paths.joined(separator: " ")
        }
    }
}

/// `copy:` with its options.
public struct CopyStep: Sendable, Hashable {
    /// Source path relative to the image folder, as written.
    public var source: String
    /// Absolute destination in the image, as written (a trailing `/` matters).
    public var to: String
    /// Mode for every copied file, when given.
    public var mode: UInt32?
    /// Owner of everything copied, when given (default 0:0).
    public var owner: OwnerSpec?

    /// A mode as at least four octal digits, e.g. 0644.
    public static func octal(_ mode: UInt32) -> String {
        let digits = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}

/// `owner:` of a copy step: `uid:gid`, `user:group`, `user` or `uid`.
public struct OwnerSpec: Sendable, Hashable, CustomStringConvertible {
    /// A numeric id or a name to look up in the image.
    public enum Part: Sendable, Hashable, CustomStringConvertible {
        case id(UInt32)
        case name(String)

        public var description: String {
            switch self {
            case .id(let id): return String(id)
            case .name(let name): return name
            }
        }
    }

    public var user: Part
    public var group: Part?

    public var description: String {
        group.map { "\(user):\($0)" } ?? user.description
    }
}

/// `run:` with its options.
public struct RunStep: Sendable, Hashable {
    public var script: String
    public var network: Bool
    public var secrets: [String]
    public var user: String?
}

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

    public init() {}

    public static func == (lhs: ConfigPatch, rhs: ConfigPatch) -> Bool {
        lhs.env.elementsEqual(rhs.env, by: { $0.0 == $1.0 && $0.1 == $1.1 })
            && lhs.labels.elementsEqual(rhs.labels, by: { $0.0 == $1.0 && $0.1 == $1.1 })
            && lhs.workdir == rhs.workdir && lhs.user == rhs.user && lhs.entrypoint == rhs.entrypoint
            && lhs.cmd == rhs.cmd && lhs.ports == rhs.ports && lhs.stopSignal == rhs.stopSignal
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
    }
}

/// One entry of `checks:`.
public struct Check: Sendable, Hashable {
    public var script: String
    public var user: String?
    public var location: SourceLocation
}
