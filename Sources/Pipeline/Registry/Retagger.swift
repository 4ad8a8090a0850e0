import OCI
import Registry

/// `bake retag REPOSITORY:FROM TO...`: points more tags at the manifest a tag (or digest)
/// names, without moving any blob.
public enum Retagger {
    public struct Report: Sendable, Codable {
        public var digest: Digest
        public var tags: [String]
    }

    /// Closes `access`'s registry clients when done.
    public static func retag(_ source: String, to targets: [String], access: RegistryAccess) throws -> Report {
        defer { access.shutdown() }
        let reference = try RegistryAccess.reference(source, what: "the image to retag")
        guard reference.tag != nil || reference.digest != nil else {
            throw PipelineError.badInput("'\(source)' names no tag or digest to retag from; write REPOSITORY:TAG or REPOSITORY@sha256:DIGEST")
        }
        guard !targets.isEmpty else { throw PipelineError.badInput("name at least one tag to point at \(source)") }
        for target in targets where !Reference.isValidTag(target) {
            throw PipelineError.badInput("'\(target)' is not a valid tag (letters, digits, '_', '.', '-', at most 128, not starting with '.' or '-')")
        }
        let repository = reference.repository
        let digest = try access.with(host: reference.host) { client in
            // pull,push from the start: the token that reads the manifest also puts the tags.
            let fetched = try await client.manifest(repository, reference: reference.manifestReference, actions: "pull,push")
            for target in targets {
                try await client.putManifest(repository, reference: target, bytes: fetched.bytes, mediaType: fetched.mediaType)
            }
            return fetched.digest
        }
        return Report(digest: digest, tags: targets.map { reference.with(tag: $0).description })
    }
}
