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
    func build(_ targets: [String] = [], epoch: Int64? = nil) throws -> [BuiltImage] {
        let workspace = try Workspace(directory: path, storePath: nil)
        return try Builder(project: workspace.loadProject(), store: workspace.store, reporter: SilentReporter())
            .build(BuildOptions(targets: targets, sourceDateEpoch: epoch, compressionThreads: 2))
    }

    var store: ContentStore { ContentStore(root: dir.at(".bake")) }

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
