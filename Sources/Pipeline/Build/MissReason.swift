import Layers
import OCI
import Provisioners

/// Why a step is not a cache hit, compared with the image's last build.
public struct MissReason: Sendable, CustomStringConvertible {
    /// One line, for plans and progress.
    public var summary: String
    /// Every detail (all changed files), for `bake why`.
    public var details: [String]

    public var description: String { summary }

    /// Explains a miss of step `number` given its evaluation and the last build's record.
    static func explain(
        _ evaluation: StepEvaluation, step: Step, previous: BuildRecord?, base: ParentImage?, noCache: Bool, hasher: InputHasher
    ) -> MissReason {
        let number = step.number
        if noCache { return MissReason(summary: "--no-cache", details: []) }
        let key = evaluation.key.parts
        if let previous, let old = previous.steps.first(where: { $0.number == number })?.key.parts {
            if old.format != key.format {
                return MissReason(summary: "bake's layer format changed (\(old.format) -> \(key.format))", details: [])
            }
            if old.parent != key.parent {
                guard number == 1 else {
                    return MissReason(summary: "step \(number - 1) made a different layer", details: [])
                }
                if let base {
                    // Named by manifest digests, as `bake inspect` shows them (the key holds the content state).
                    let before = previous.parent?.digest.short ?? old.parent.short
                    return MissReason(summary: "its base image \(base.name) changed (\(before) -> \(base.digest.short))", details: [])
                }
                return MissReason(summary: "the image below changed (\(old.parent.short) -> \(key.parent.short))", details: [])
            }
            if old.spec != key.spec {
                return MissReason(summary: "the step changed: \(old.spec) -> \(key.spec)", details: [])
            }
            if old.inputs != key.inputs {
                var changes: [String] = []
                if let oldDigest = old.inputs, let before = hasher.savedListing(oldDigest), let now = evaluation.inputs {
                    changes = now.listing.changes(since: before, source: now.source)
                }
                guard let first = changes.first else {
                    return MissReason(summary: "its input files changed", details: [])
                }
                let more = changes.count > 1 ? " (and \(changes.count - 1) more)" : ""
                return MissReason(summary: "\(first)\(more)", details: changes)
            }
            if old.epoch != key.epoch {
                return MissReason(summary: "the build time changed (\(Timestamp.rfc3339(old.epoch)) -> \(Timestamp.rfc3339(key.epoch)))", details: [])
            }
            if old.network != key.network { return MissReason(summary: "its network setting changed", details: []) }
            if old.secrets != key.secrets { return MissReason(summary: "its secrets changed", details: []) }
        }
        switch evaluation.lookup {
        case .failure(.blobMissing(let digest)):
            return MissReason(summary: "its cached layer \(digest.short) is gone", details: [])
        case .failure(.blobCorrupt(let digest)):
            return MissReason(summary: "its cached layer \(digest.short) is corrupt", details: [])
        default:
            if previous == nil { return MissReason(summary: "never built", details: []) }
            if previous?.steps.contains(where: { $0.number == number }) == false {
                return MissReason(summary: "a new step", details: [])
            }
            return MissReason(summary: "not in the cache", details: [])
        }
    }
}
