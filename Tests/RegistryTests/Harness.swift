import Foundation
import OCI
import Registry
import RegistryTestSupport
import Synchronization

/// A client of a `FakeRegistry`, its waits between retries recorded instead of slept, and a
/// scratch folder for blob files.
final class Harness: Sendable {
    let registry: FakeRegistry
    let client: RegistryClient
    /// Every wait the client asked for between attempts, in seconds.
    var pauses: [Double] { recorded.waits.withLock { $0 } }
    let folder: String
    private let recorded = Waits()

    private final class Waits: Sendable {
        let waits = Mutex<[Double]>([])
    }

    init(
        auth: FakeRegistry.Auth = .anonymous, layout: FakeRegistry.Layout = FakeRegistry.Layout(),
        credentials: RegistryCredentials? = nil, monolithicLimit: Int64 = 8 << 20, chunkSize: Int64 = 8 << 20,
        insecure: Bool = false, smallAnswerDeadline: Duration = .seconds(60)
    ) throws {
        registry = FakeRegistry(auth: auth, layout: layout)
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("bake-registry-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let recorded = recorded
        client = RegistryClient(
            host: FakeRegistry.host,
            options: RegistryOptions(
                insecure: insecure, credentials: credentials, monolithicLimit: monolithicLimit, chunkSize: chunkSize,
                smallAnswerDeadline: smallAnswerDeadline),
            transport: registry, pause: { seconds in recorded.waits.withLock { $0.append(seconds) } })
    }

    deinit { try? FileManager.default.removeItem(atPath: folder) }

    /// A blob written to a file of the scratch folder.
    struct BlobFile {
        var digest: Digest
        var path: String
        var bytes: [UInt8]
        var size: Int64 { Int64(bytes.count) }
    }

    /// `count` bytes that differ from one blob to the next (`seed`), written to a file.
    func blob(_ count: Int, seed: UInt8 = 1) throws -> BlobFile {
        let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed) &* 7 &+ ($0 >> 8)) }
        let digest = FakeRegistry.digest(bytes)
        let path = folder + "/" + digest.encoded
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return BlobFile(digest: digest, path: path, bytes: bytes)
    }

    /// Pushes a blob made by `blob`.
    @discardableResult
    func push(_ blob: BlobFile, to repository: String = "team/app") async throws -> BlobPush {
        try await client.pushBlob(repository, digest: blob.digest, size: blob.size, file: blob.path)
    }

    /// A manifest naming `config` and `layers` (digests only matter here).
    static func manifest(config: Digest, layers: [Digest]) -> [UInt8] {
        let layerList = layers.map { #"{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"\#($0)","size":1}"# }
        return Array((#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"\#(config)","size":1},"layers":["#
            + layerList.joined(separator: ",") + "]}").utf8)
    }
}
