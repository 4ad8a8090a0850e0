import Layers
import OCI
import Provisioners

/// How an image the rebuild made differs from the one expected: the first layer that
/// differs, down to the file, with known causes; the config and manifest as JSON paths.
extension Verifier {
    /// The first difference of an image, down to the file.
    func explain(_ image: Expected, rebuilt: Descriptor, in rebuiltStore: ContentStore, folder: String) throws -> VerifyReport.Difference {
        let manifestBytes = try rebuiltStore.readBlob(rebuilt.digest, what: "manifest")
        let manifest = try CanonicalJSON.decode(Manifest.self, from: manifestBytes, kind: "manifest \(rebuilt.digest)")
        let configBytes = try rebuiltStore.readBlob(manifest.config.digest, what: "config")
        let config = try CanonicalJSON.decode(ImageConfig.self, from: configBytes, kind: "config \(manifest.config.digest)")
        let layers = Array(zip(manifest.layers, config.rootfs.diffIDs))
        var difference = VerifyReport.Difference(
            image: image.name, files: [], filesTotal: 0,
            config: image.configBytes.map { (try? JSONDifference.compare($0, configBytes, what: "image config")) ?? [] } ?? [],
            manifest: image.manifestBytes.map { (try? JSONDifference.compare($0, manifestBytes, what: "image manifest")) ?? [] } ?? [])
        if image.configBytes == nil { difference.filesUnavailable = "the store has no blobs of the expected image (bake.lock names them), so only digests can be compared; run 'bake build' and verify again" }
        let count = max(layers.count, image.layers.count)
        guard let index = (0..<count).first(where: { index in
            index >= layers.count || index >= image.layers.count
                || layers[index].0.digest != image.layers[index].digest || layers[index].1 != image.layers[index].diffID
        }) else {
            return difference
        }
        difference.layer = index + 1
        if index < image.layers.count { difference.expected = .init(digest: image.layers[index].digest, diffID: image.layers[index].diffID) }
        if index < layers.count { difference.rebuilt = .init(digest: layers[index].0.digest, diffID: layers[index].1) }
        // Which step made the layer: the verification build's record knows.
        if let record = BuildRecord.latest(image.name, store: rebuiltStore) {
            let own = index - (layers.count - record.steps.count)
            if own >= 0 && own < record.steps.count {
                difference.step = record.steps[own].number
                difference.stepSummary = record.steps[own].summary
            }
        }
        guard let expected = difference.expected, let now = difference.rebuilt else { return difference }
        guard workspace.store.hasBlob(expected.digest) else {
            difference.filesUnavailable = "the expected layer \(expected.digest) is not in the store \(workspace.store.root), so its files cannot be compared"
            return difference
        }
        let expectedManifest = image.manifestBytes.flatMap { try? CanonicalJSON.decode(Manifest.self, from: $0, kind: "manifest") }
        let expectedLayer = try expectedManifest.map { $0.layers[index] }
            ?? Descriptor(mediaType: .layerTarGzip, digest: expected.digest, size: workspace.store.blobSize(expected.digest))
        let (files, total) = try LayerDifference.compare(
            LayerDifference.Layer(store: workspace.store, layer: expectedLayer, diffID: expected.diffID),
            LayerDifference.Layer(store: rebuiltStore, layer: layers[index].0, diffID: now.diffID))
        difference.files = KnownCause.annotate(files)
        difference.filesTotal = total
        if options.diffoscope {
            difference.diffoscope = try runDiffoscope(difference.files, expected: expectedLayer, expectedDiffID: expected.diffID,
                                                      rebuilt: layers[index].0, rebuiltDiffID: now.diffID, in: rebuiltStore, folder: folder)
        }
        return difference
    }

    /// diffoscope on each changed regular file (at most 5), both versions extracted.
    func runDiffoscope(
        _ files: [FileDifference], expected: Descriptor, expectedDiffID: Digest, rebuilt: Descriptor, rebuiltDiffID: Digest,
        in rebuiltStore: ContentStore, folder: String
    ) throws -> [String: String] {
        guard let diffoscope = HostTool.path("diffoscope") else { return [:] }
        var outputs: [String: String] = [:]
        for (number, file) in files.filter({ $0.change == .changed }).prefix(5).enumerated() {
            let name = file.path.split(separator: "/").last.map(String.init) ?? "file"
            let work = folder + "/diffoscope/\(number)"
            try FileSystem.createDirectory(work + "/built")
            try FileSystem.createDirectory(work + "/rebuilt")
            let before = work + "/built/" + name
            let after = work + "/rebuilt/" + name
            guard try LayerDifference.extractFile(file.path, from: workspace.store, layer: expected, diffID: expectedDiffID, to: before),
                  try LayerDifference.extractFile(file.path, from: rebuiltStore, layer: rebuilt, diffID: rebuiltDiffID, to: after) else { continue }
            outputs[file.path] = String(decoding: try HostTool.run([diffoscope, "--no-progress", "--text", "-", before, after]).output,
                                        as: UTF8.self)
        }
        return outputs
    }
}
