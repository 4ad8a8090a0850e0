import Glibc
import Layers
import OCI
import Provisioners

/// `from: {rootfs: PATH.tar}`: a root file system tarball (plain or gzip) as the image's
/// first layer. Its entries are checked (no `..`, no absolute path, nothing through a
/// symlink), extracted safely, and written again deterministically. Keyed on the tarball's
/// content, so an unchanged tarball is a cache hit.
struct RootfsImporter {
    let store: ContentStore
    let evaluator: StepEvaluator
    let reporter: BuildReporter

    func resolve(
        path: String, stage: Stage, sourceDateEpoch: Int64?, noCache: Bool, build: Bool, threads: Int
    ) throws -> (ImageBase, BaseLayer?, [String: String])? {
        let host = ExternalBases.hostPath(path, stage: stage)
        guard let status = try? FileSystem.statPath(host) else {
            throw PipelineError.badInput("\(stage.baseLocation): the root file system tarball \(path) does not exist")
        }
        guard status.kind == .regular else {
            throw PipelineError.badInput("\(stage.baseLocation): the root file system tarball \(path) is \(status.kind.article), not a regular file")
        }
        let listing = try evaluator.hasher.listing(of: host, remember: build)
        let epoch = sourceDateEpoch ?? 0
        let key = try CacheKey(parent: CacheKey.scratch, spec: StepSpec(kind: "rootfs", arguments: [:]), inputs: listing.digest,
                               secrets: [], network: false, epoch: epoch)
        let name = path.split(separator: "/").last.map(String.init) ?? path
        let upstream = ["rootfs": path, "rootfs.content": listing.digest.description]
        if !noCache, case .success(let hit) = evaluator.cache.lookup(key.digest, repair: build) {
            let base = BaseLayer(key: key, layer: hit.layer, history: hit.history, cached: true, reason: nil)
            return (ExternalBases.oneLayer(base, epoch: epoch, environment: nil), base, upstream)
        }
        guard build else { return nil }
        reporter.report(.stepStarted(image: stage.name, step: 0, of: stage.steps.count, summary: "from rootfs \(path)",
                                     reason: noCache ? "--no-cache" : "not in the cache"))
        let work = try ExternalBases.workFolder(store, "rootfs")
        defer { try? FileSystem.removeTree(work) }
        let root = work + "/root"
        try FileSystem.createDirectory(root)
        do {
            let file = try OpenFile.regularFile(host)
            var magic = [UInt8](repeating: 0, count: 2)
            let count = try magic.withUnsafeMutableBytes { try file.read(into: $0) }
            lseek(file.fd, 0, SEEK_SET)
            let raw: ByteSource = FileSource(file: file)
            let stream: ByteSource = count == 2 && magic == [0x1f, 0x8b] ? try GzipSource(upstream: raw, describedAs: path) : raw
            let reader = TarReader(source: stream)
            let extractor = try TreeExtractor(root: root, whiteouts: .apply)
            let tree = ImageFilesystem()
            while let entry = try reader.next() {
                try tree.applyChecked(layer: [entry], index: 0)
                try extractor.extractOne(entry, content: reader)
            }
            try extractor.finish()
        } catch let error as LayersError {
            throw PipelineError.badInput("\(stage.baseLocation): the root file system tarball \(path) is refused: \(error)")
        }
        let layer = try ExternalBases.captureFolder(root, store: store, epoch: epoch, threads: threads)
        let history = "rootfs \(name) (\(listing.digest))"
        try evaluator.cache.record(key: key.digest, layer: layer, history: history)
        let base = BaseLayer(key: key, layer: layer, history: history, cached: false, reason: noCache ? "--no-cache" : "not in the cache")
        return (ExternalBases.oneLayer(base, epoch: epoch, environment: nil), base, upstream)
    }
}
