import Foundation
import TestSupport
@testable import Layers
@testable import Pipeline

/// A project folder made of files given as text.
final class ProjectFixture {
    let dir = TemporaryDirectory("bake-project")
    var path: String { dir.path }

    init(_ files: [String: String]) throws {
        try Fixture.mkdir(dir.at("images"))
        for (relative, contents) in files {
            try Fixture.write(dir.at(relative), contents, mode: relative.hasSuffix(".sh") ? 0o755 : 0o644)
        }
    }

    func load() throws -> Project { try Project.load(directory: path) }

    /// The diagnostics of a project that must not load.
    func diagnostics() throws -> [String] {
        do {
            _ = try load()
            return []
        } catch PipelineError.invalidStageFiles(let diagnostics) {
            return diagnostics.map(\.description)
        }
    }

    /// Builds into a store in the fixture and returns the images.
    func build(_ targets: [String] = [], epoch: Int64? = nil, noCache: Bool = false, jobs: Int = 1) throws -> [BuiltImage] {
        try builder().build(BuildOptions(targets: targets, sourceDateEpoch: epoch, compressionThreads: 2, noCache: noCache, jobs: jobs))
    }

    /// A builder on the fixture's store (its evaluator counts what it reads).
    func builder() throws -> Builder {
        let workspace = try Workspace(directory: path, storePath: nil)
        return Builder(project: try workspace.loadProject(), store: workspace.store, reporter: SilentReporter())
    }

    /// Which steps were taken from the cache: ["base/1": true, ...].
    static func cached(_ images: [BuiltImage]) -> [String: Bool] {
        var result: [String: Bool] = [:]
        for image in images {
            for step in image.steps { result["\(image.name)/\(step.step)"] = step.cached }
        }
        return result
    }

    var store: ContentStore { ContentStore(root: dir.at(".bake")) }

    var evaluatorCache: StepCache { StepCache(store: store) }

    /// The entries of one layer, in archive order.
    func entries(of layer: LayerBlob) throws -> [TarEntry] {
        let reader = try store.openLayer(layer.descriptor, diffID: layer.diffID)
        var entries: [TarEntry] = []
        while let entry = try reader.next() { entries.append(entry) }
        return entries
    }

    /// `ls -l` style lines of a layer.
    func listing(of layer: LayerBlob) throws -> [String] {
        try entries(of: layer).map(\.listing)
    }
}
