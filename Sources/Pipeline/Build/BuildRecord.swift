import Glibc
import Layers
import OCI
import Provisioners

/// One JSON file per image build, `STORE/builds/NAME/NNNNNN.json`: what was built, from
/// what, which steps were cached, and when (wall-clock time here is about the build, never
/// part of an image). Records let `bake why` say what changed since the last build, and
/// let a previous image be found again for a rollback.
public struct BuildRecord: Sendable, Codable {
    public struct StepRecord: Sendable, Codable {
        public var number: Int
        public var summary: String
        public var key: CacheKey
        public var layer: Digest
        public var diffID: Digest
        public var size: Int64
        public var cached: Bool
        public var seconds: Double
        /// For an apt step: the packages it installed, as name=version.
        public var packages: [String]?

        init(_ result: StepResult) {
            number = result.step
            summary = result.summary
            key = result.key
            layer = result.layer.descriptor.digest
            diffID = result.layer.diffID
            size = result.layer.descriptor.size
            cached = result.cached
            seconds = result.seconds
            packages = result.packages
        }
    }

    public var image: String
    public var sequence: Int
    public var manifest: Digest
    public var config: Digest
    public var parent: ParentImage?
    public var baseState: Digest
    public var layers: [Digest]
    public var steps: [StepRecord]
    public var sourceDateEpoch: Int64?
    /// The digest of the checks this image passed, if it has checks.
    public var checks: Digest?
    /// External upstreams the image was built from (a Debian release file...).
    public var upstream: [String: String]?
    /// The revision, source and version written into the image.
    public var metadata: SourceMetadata?
    public var finishedAt: String

    /// The record of `image`, just built on a base whose cache-key state is `baseState`,
    /// with the digest of the checks it passed. Its sequence number is set when written.
    init(_ image: BuiltImage, baseState: Digest, checks: Digest?, options: BuildOptions) {
        self.image = image.name
        sequence = 0
        manifest = image.manifestDescriptor.digest
        config = image.manifest.config.digest
        parent = image.parent
        self.baseState = baseState
        layers = image.manifest.layers.map(\.digest)
        steps = image.steps.map(StepRecord.init)
        sourceDateEpoch = options.sourceDateEpoch
        self.checks = checks
        upstream = image.upstream.isEmpty ? nil : image.upstream
        metadata = options.metadata
        finishedAt = Timestamp.rfc3339(Int64(time(nil)))
    }

    static func folder(_ image: String, store: ContentStore) -> String {
        store.root + "/builds/" + image
    }

    /// The sequence numbers of an image's records, ascending.
    static func sequences(_ image: String, store: ContentStore) -> [Int] {
        let names = (try? FileSystem.directoryEntries(Array(folder(image, store: store).utf8))) ?? []
        return names.compactMap { Int(FileSystem.text($0).split(separator: ".").first ?? "") }.sorted()
    }

    /// The newest record of an image, if any.
    public static func latest(_ image: String, store: ContentStore) -> BuildRecord? {
        guard let sequence = sequences(image, store: store).last else { return nil }
        return load(image, sequence: sequence, store: store)
    }

    /// Every record of an image, oldest first.
    public static func all(_ image: String, store: ContentStore) -> [BuildRecord] {
        sequences(image, store: store).compactMap { load(image, sequence: $0, store: store) }
    }

    static func load(_ image: String, sequence: Int, store: ContentStore) -> BuildRecord? {
        let path = folder(image, store: store) + "/" + name(sequence)
        guard let bytes = try? FileSystem.readFile(path, limit: 64 << 20) else { return nil }
        return try? CanonicalJSON.decode(BuildRecord.self, from: bytes, kind: "build record \(path)")
    }

    static func name(_ sequence: Int) -> String {
        let digits = String(sequence)
        return String(repeating: "0", count: max(0, 6 - digits.count)) + digits + ".json"
    }

    /// Writes the record under the next free sequence number. Call under the store lock.
    static func write(_ record: BuildRecord, store: ContentStore) throws -> BuildRecord {
        var record = record
        let folder = folder(record.image, store: store)
        try FileSystem.createDirectory(folder)
        record.sequence = (sequences(record.image, store: store).last ?? 0) + 1
        try store.writeAtomically(folder + "/" + name(record.sequence), CanonicalJSON.encodePretty(record) + [0x0a])
        return record
    }
}
