import Provisioners
import Layers
import OCI

/// An image as commands name it: `NAME` (the image the store names so now), `NAME@N` (its
/// build number N, see `bake history`) or `NAME@sha256:...` (one of its builds by digest).
public struct ImageReference: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var build: Int?
    public var digest: Digest?

    public init(parsing text: String) throws {
        guard let at = text.firstIndex(of: "@") else {
            name = text
            return
        }
        name = String(text[..<at])
        let selector = String(text[text.index(after: at)...])
        if let number = Int(selector), number > 0 {
            build = number
        } else if let digest = try? Digest(parsing: selector) {
            self.digest = digest
        } else {
            throw PipelineError.badInput("'\(text)' names no build: use NAME, NAME@N (a build number from 'bake history \(name)') or NAME@sha256:DIGEST")
        }
    }

    public var description: String {
        if let build { return "\(name)@\(build)" }
        if let digest { return "\(name)@\(digest)" }
        return name
    }

    /// The manifest this reference names in `store` (call under a store lock).
    func resolve(in store: ContentStore) throws -> Descriptor {
        if build == nil && digest == nil {
            guard let descriptor = try store.image(named: name) else {
                let names = try store.readIndex().refNames
                throw PipelineError.badInput("no image named '\(name)' in the store \(store.root)\(Suggestions.hint(name, from: names)); run 'bake build \(name)' first")
            }
            return descriptor
        }
        let records = BuildRecord.all(name, store: store)
        guard let record = records.first(where: { $0.sequence == build || $0.manifest == digest }) else {
            throw PipelineError.badInput("the store has no build \(self); 'bake history \(name)' lists the builds it has")
        }
        guard store.hasBlob(record.manifest) else {
            throw PipelineError.badInput("build \(self) (\(record.manifest)) is no longer in the store (its blobs were removed)")
        }
        return Descriptor(mediaType: .imageManifest, digest: record.manifest, size: try store.blobSize(record.manifest))
    }
}
