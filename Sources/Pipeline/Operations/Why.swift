import Layers
import OCI

/// `bake why IMAGE`: the first input that changed since the image (or what it is built on)
/// was last built, or that nothing did.
public struct WhyReport: Sendable {
    /// True when a build would take every step of the image and its ancestors from the cache.
    public var upToDate: Bool
    /// Sentences, first the answer, then details.
    public var lines: [String]

    public static func explain(
        _ image: String, workspace: Workspace, project: Project, sourceDateEpoch: Int64?, metadata: SourceMetadata = SourceMetadata()
    ) throws -> WhyReport {
        let plan = try Plan.make(workspace: workspace, project: project, targets: [image], sourceDateEpoch: sourceDateEpoch,
                                 metadata: metadata)
        guard let target = plan.images.last else { return WhyReport(upToDate: true, lines: []) }
        for (index, candidate) in plan.images.enumerated() {
            guard let first = candidate.steps.first(where: { !$0.status.isHit }) else { continue }
            var lines: [String] = []
            let since = candidate.lastBuild.map { "since its build #\($0.sequence) (\($0.finishedAt))" } ?? "(it was never built)"
            switch first.status {
            case .build(let reason):
                lines.append("\(candidate.name) step \(first.step.number) (\(first.step.summary)) is rebuilt \(since): \(reason.summary)")
                lines += reason.details.dropFirst().prefix(20).map { "  \($0)" }
                if reason.details.count > 21 { lines.append("  ... \(reason.details.count - 21) more") }
            case .after(let why):
                lines.append("\(candidate.name) step \(first.step.number) (\(first.step.summary)) is rebuilt: \(why)")
            case .hit:
                break
            }
            let later = candidate.steps.filter { $0.step.number > first.step.number }.count
            if later > 0 { lines.append("the \(later) step\(later == 1 ? "" : "s") after it in \(candidate.name) run again too") }
            let downstream = plan.images[(index + 1)...].map(\.name)
            if !downstream.isEmpty {
                lines.append("then \(downstream.joined(separator: ", ")) \(downstream.count == 1 ? "is" : "are") rebuilt on it, unless \(candidate.name) comes out byte-identical")
            }
            return WhyReport(upToDate: false, lines: lines)
        }
        // Every step is a hit, but an image may still not be the one the store names: its
        // inputs went back to an earlier build's (a revert), or only its config changed (a
        // config key, a label, a new revision).
        if let stale = plan.images.first(where: { $0.predicted != nil && !$0.isUpToDate }), let digest = stale.predicted {
            let store = workspace.store
            let records = BuildRecord.all(stale.name, store: store)
            var lines: [String]
            if let current = stale.current {
                let named = "the store names \(current)" + (records.last { $0.manifest == current }.map { " (build #\($0.sequence))" } ?? "")
                if let earlier = records.last(where: { $0.manifest == digest }) {
                    lines = ["\(stale.name) is out of date: its inputs are those of its build #\(earlier.sequence) (\(earlier.finishedAt)), every step a cache hit, but \(named); 'bake build \(image)' names \(digest) again"]
                } else {
                    let changes = Self.configChanges(from: current, to: stale.predictedConfig, store: store)
                    lines = ["\(stale.name) is out of date: every step is a cache hit, but its image config changed since \(named)\(changes.first.map { ": " + $0 } ?? ""); 'bake build \(image)' names \(digest)"]
                    lines += changes.dropFirst().prefix(10).map { "  \($0)" }
                }
            } else {
                lines = ["\(stale.name) is not built yet under its name, but every step is a cache hit; 'bake build \(image)' names \(digest)"]
            }
            let downstream = plan.images.drop { $0.name != stale.name }.dropFirst().filter { !$0.isUpToDate }.map(\.name)
            if !downstream.isEmpty {
                lines.append("then \(downstream.joined(separator: ", ")) \(downstream.count == 1 ? "is" : "are") named again on it")
            }
            return WhyReport(upToDate: false, lines: lines)
        }
        let count = target.steps.count
        let when = target.lastBuild.map { ", as in its build #\($0.sequence) (\($0.finishedAt))" } ?? ""
        let steps = switch count {
        case 0: "it has no steps to rebuild"
        case 1: "its one step is a cache hit"
        default: "all \(count) steps are cache hits"
        }
        var line = "\(image) is up to date: \(steps)\(when)"
        if let digest = target.predicted { line += "; it is \(digest)" }
        return WhyReport(upToDate: true, lines: [line])
    }

    /// How the image config the store names differs from the one a build would write, as
    /// JSON paths (`$.config.Env[1]: (none) -> "Y=1"`); empty when it cannot be told.
    static func configChanges(from current: Digest, to predicted: [UInt8]?, store: ContentStore) -> [String] {
        guard let predicted, let manifest = try? store.readManifest(current),
              let bytes = try? store.readBlob(manifest.config.digest, what: "config") else { return [] }
        return (try? JSONDifference.compare(bytes, predicted, what: "image config")) ?? []
    }
}
