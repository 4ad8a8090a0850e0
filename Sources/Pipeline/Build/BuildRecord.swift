import Glibc
import Layers
import OCI

/// One JSON file per image built, `STORE/builds/NAME/NNNNNN.json`: what was built, from
/// what, and when (wall-clock time here is about the build, never part of an image).
/// Past records let a previous image be found again for a rollback.
public struct BuildRecord: Sendable, Codable {
    public struct StepRecord: Sendable, Codable {
        public var number: Int
        public var summary: String
        public var layer: Digest
        public var diffID: Digest
        public var size: Int64
    }

    public var image: String
    public var manifest: Digest
    public var config: Digest
    public var parent: ParentImage?
    public var layers: [Digest]
    public var steps: [StepRecord]
    public var sourceDateEpoch: Int64?
    public var finishedAt: String

    /// Writes the record under the next free sequence number. Call under the store lock.
    static func write(_ record: BuildRecord, store: ContentStore) throws {
        let folder = store.root + "/builds/" + record.image
        try FileSystem.createDirectory(folder)
        let existing = try FileSystem.directoryEntries(Array(folder.utf8))
            .compactMap { Int(FileSystem.text($0).split(separator: ".").first ?? "") }
        let next = (existing.max() ?? 0) + 1
        let digits = String(next)
        let name = String(repeating: "0", count: max(0, 6 - digits.count)) + digits
        try store.writeAtomically("\(folder)/\(name).json", CanonicalJSON.encodePretty(record) + [0x0a])
    }
}
