// Manifests and tags: https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md#pulling-manifests
import struct Crypto.SHA256
import Foundation
import NIOHTTP1
import OCI

extension RegistryClient {
    /// The manifest media types bake reads, for `Accept`.
    static let manifestTypes: [MediaType] = [.imageManifest, .imageIndex, .dockerManifest, .dockerManifestList]

    /// Fetches the manifest `reference` (a tag or a digest) of `repository`. A digest
    /// reference is checked against the bytes; a tag's bytes are checked against the digest
    /// the registry reports for them. `actions` is the token scope to ask for ("pull,push"
    /// when a put follows, so one token serves both).
    public func manifest(_ repository: String, reference: String, actions: String = "pull") async throws -> FetchedManifest {
        let name = Self.manifestName(host: host, repository: repository, reference: reference)
        if let fetched = try await fetchManifest(repository, reference: reference, actions: actions) { return fetched }
        // Some registries (distribution) say MANIFEST_UNKNOWN for a repository they do not
        // have either; the tag list tells the two apart.
        do {
            _ = try await tags(repository)
        } catch RegistryError.unknownRepository(let host, let repository) {
            throw RegistryError.unknownRepository(host: host, repository: repository)
        } catch {}
        throw RegistryError.unknownManifest(reference: name)
    }

    /// The manifest `reference` of `repository`, checked as `manifest` checks it, or nil when
    /// the registry has no such manifest or repository: one request, for lookups that expect
    /// misses (the remote step cache).
    public func manifestIfPresent(_ repository: String, reference: String) async throws -> FetchedManifest? {
        try await fetchManifest(repository, reference: reference, actions: "pull")
    }

    /// `host/repository:tag` or `host/repository@digest`.
    static func manifestName(host: String, repository: String, reference: String) -> String {
        "\(host)/\(repository)" + (reference.contains(":") ? "@" : ":") + reference
    }

    /// One GET of a manifest; nil on 404.
    private func fetchManifest(_ repository: String, reference: String, actions: String) async throws -> FetchedManifest? {
        let name = Self.manifestName(host: host, repository: repository, reference: reference)
        let operation = RegistryOperation(
            method: .GET, url: "/v2/\(repository)/manifests/\(reference)",
            headers: [("Accept", Self.manifestTypes.map(\.rawValue).joined(separator: ", "))],
            scopes: [Self.scope(repository, actions)], what: "fetch of manifest \(name)")
        let answer: RegistryAnswer
        let bytes: [UInt8]
        do {
            (answer, bytes) = try await smallAnswer(operation, limit: 4 << 20)
        } catch let error as ByteStream.TooLarge {
            throw RegistryError.invalidResponse(host: host, operation: operation.what, detail: "the manifest is \(error), over 4 MiB")
        } catch let error as TransportError {
            throw RegistryError.invalidResponse(host: host, operation: operation.what, detail: "the manifest was cut off (\(error))")
        }
        guard answer.status == 200 else {
            if answer.status == 404 { return nil }
            throw await failure(answer, operation, reference: name)
        }
        let digest = Digest(sha256: SHA256.hash(data: bytes))
        if reference.contains(":") {
            let expected = try Digest(parsing: reference)
            guard digest == expected else {
                throw RegistryError.digestMismatch(host: host, what: "manifest \(name)", expected: expected, actual: digest.description)
            }
        } else if let reported = answer.header("Docker-Content-Digest"), reported != digest.description {
            throw RegistryError.digestMismatch(host: host, what: "the digest of manifest \(name)", expected: digest, actual: reported)
        }
        var mediaType = answer.header("Content-Type").map { MediaType(rawValue: String($0.split(separator: ";")[0]).trimmingCharacters(in: .whitespaces)) }
        if mediaType == nil || !Self.manifestTypes.contains(mediaType!) {
            struct Typed: Decodable { var mediaType: String? }
            mediaType = (try? JSONDecoder().decode(Typed.self, from: Data(bytes)))?.mediaType.map(MediaType.init(rawValue:))
        }
        guard let mediaType, Self.manifestTypes.contains(mediaType) else {
            throw RegistryError.invalidResponse(host: host, operation: operation.what, detail: "it is not an OCI or Docker manifest or index")
        }
        return FetchedManifest(bytes: bytes, mediaType: mediaType, digest: digest)
    }

    /// True if `repository` has the manifest `reference` (one HEAD; pull and push scope, as
    /// a put follows a miss).
    public func hasManifest(_ repository: String, reference: String) async throws -> Bool {
        let operation = RegistryOperation(
            method: .HEAD, url: "/v2/\(repository)/manifests/\(reference)",
            headers: [("Accept", Self.manifestTypes.map(\.rawValue).joined(separator: ", "))],
            scopes: [Self.scope(repository, "pull,push")],
            what: "HEAD of manifest \(Self.manifestName(host: host, repository: repository, reference: reference))")
        let (answer, _) = try await smallAnswer(operation, limit: 64 << 10)
        switch answer.status {
        case 200: return true
        case 404: return false
        default: throw await failure(answer, operation)
        }
    }

    /// Puts `bytes` as the manifest `reference` (a tag or its digest) of `repository` and
    /// checks the digest the registry reports.
    @discardableResult
    public func putManifest(_ repository: String, reference: String, bytes: [UInt8], mediaType: MediaType) async throws -> Digest {
        let digest = Digest(sha256: SHA256.hash(data: bytes))
        let operation = RegistryOperation(
            method: .PUT, url: "/v2/\(repository)/manifests/\(reference)",
            headers: [("Content-Type", mediaType.rawValue)], body: .bytes(bytes),
            scopes: [Self.scope(repository, "pull,push")],
            what: "put of manifest \(host)/\(repository)" + (reference.contains(":") ? "@" : ":") + reference)
        let (answer, _) = try await smallAnswer(operation, limit: 64 << 10)
        guard answer.status == 201 || answer.status == 200 else { throw await failure(answer, operation) }
        try checkDigest(answer, digest, what: "manifest")
        return digest
    }

    /// Every tag of `repository`, following `Link` pages. `actions` is the token scope to ask
    /// for ("pull,push" before a push, so one token serves both).
    public func tags(_ repository: String, actions: String = "pull") async throws -> [String] {
        var url = "/v2/\(repository)/tags/list?n=1000"
        var tags: [String] = []
        for _ in 0..<10_000 {
            let operation = RegistryOperation(
                method: .GET, url: url, scopes: [Self.scope(repository, actions)],
                what: "tag list of \(host)/\(repository)")
            let answer: RegistryAnswer
            let bytes: [UInt8]
            do {
                (answer, bytes) = try await smallAnswer(operation, limit: 16 << 20)
            } catch is ByteStream.TooLarge {
                throw RegistryError.invalidResponse(host: host, operation: operation.what, detail: "the list is over 16 MiB")
            } catch let error as TransportError {
                throw RegistryError.invalidResponse(host: host, operation: operation.what, detail: "the list was cut off (\(error))")
            }
            guard answer.status == 200 else {
                if answer.status == 404 { throw RegistryError.unknownRepository(host: host, repository: repository) }
                throw await failure(answer, operation)
            }
            struct List: Decodable { var tags: [String]? }
            guard let list = try? JSONDecoder().decode(List.self, from: Data(bytes)) else {
                throw RegistryError.invalidResponse(host: host, operation: operation.what, detail: "it is not a tag list")
            }
            tags += list.tags ?? []
            // Link: </v2/name/tags/list?n=1000&last=x>; rel="next"
            guard let link = answer.header("Link"), link.contains("rel=\"next\""),
                  let open = link.firstIndex(of: "<"), let close = link.firstIndex(of: ">"), open < close
            else { break }
            url = Self.resolve(String(link[link.index(after: open)..<close]), against: answer.url)
        }
        return tags
    }
}
