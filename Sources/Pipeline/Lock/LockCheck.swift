import Layers
import OCI

extension LockFile.Image {
    /// The entry of an image just built.
    init(_ image: BuiltImage, options: BuildOptions) throws {
        self.init()
        manifest = image.manifestDescriptor.digest
        config = image.manifest.config.digest
        layers = zip(image.manifest.layers, image.config.rootfs.diffIDs).map { LockFile.Layer(digest: $0.digest, diffID: $1) }
        content = try CacheKey.imageState(image.config)
        metadata = options.metadata == SourceMetadata() ? nil : options.metadata
        sourceDateEpoch = options.sourceDateEpoch
        upstream = image.upstream.isEmpty ? nil : image.upstream
        var packages: [String: [String]] = [:]
        for step in image.steps { if let installed = step.packages { packages[String(step.step)] = installed } }
        self.packages = packages.isEmpty ? nil : packages
    }
}

/// `bake build --locked`: how an image just assembled differs from its bake.lock entry.
enum LockCheck {
    /// Sentences naming each difference; empty when the image matches. The revision,
    /// source and version labels move with every commit, so when they differ from the
    /// lock's, the image must match in layers and content, not in manifest digest.
    static func differences(
        _ image: AssembledImage, steps: [StepResult], locked: LockFile.Image?, metadata: SourceMetadata, store: ContentStore
    ) throws -> [String] {
        guard let locked, let lockedLayers = locked.layers, let lockedManifest = locked.manifest else {
            return ["bake.lock has no result for it"]
        }
        if lockedManifest == image.manifestDescriptor.digest { return [] }
        var found: [String] = []
        let layers = Array(zip(image.manifest.layers, image.config.rootfs.diffIDs))
        let baseCount = layers.count - steps.count
        func origin(_ index: Int) -> String {
            guard index >= baseCount else { return "a layer of its base" }
            let step = steps[index - baseCount]
            return step.step == 0 ? "its base: \(step.summary)" : "step \(step.step): \(step.summary)"
        }
        if layers.count != lockedLayers.count {
            found.append("it has \(layers.count) layers, bake.lock has \(lockedLayers.count)")
        }
        for index in 0..<min(layers.count, lockedLayers.count) {
            let (layer, diffID) = layers[index]
            let old = lockedLayers[index]
            guard layer.digest != old.digest || diffID != old.diffID else { continue }
            found.append("layer \(index + 1) (\(origin(index))) is \(layer.digest), bake.lock has \(old.digest)"
                         + (diffID == old.diffID ? " (same files, other compression)" : ""))
        }
        for step in steps {
            guard let installed = step.packages else { continue }
            let lockedPackages = locked.packages?[String(step.step)] ?? []
            if installed != lockedPackages {
                let added = installed.filter { !lockedPackages.contains($0) }
                let removed = lockedPackages.filter { !installed.contains($0) }
                found.append("step \(step.step) installed \(added.joined(separator: " ")), bake.lock has \(removed.isEmpty ? "nothing else" : removed.joined(separator: " "))")
            }
        }
        let content = try CacheKey.imageState(image.config)
        if content != locked.content {
            var line = "its config is \(image.manifest.config.digest), bake.lock has \(locked.config?.description ?? "none")"
            if let lockedConfig = locked.config, let before = try? store.readBlob(lockedConfig, what: "config") {
                let changes = (try? JSONDifference.compare(before, image.configBytes, what: "image config")) ?? []
                if !changes.isEmpty { line += ": " + changes.prefix(5).joined(separator: "; ") }
            }
            found.append(line)
        }
        if found.isEmpty && (locked.metadata ?? SourceMetadata()) == metadata {
            found.append("its manifest is \(image.manifestDescriptor.digest), bake.lock has \(lockedManifest)")
        }
        return found
    }
}
