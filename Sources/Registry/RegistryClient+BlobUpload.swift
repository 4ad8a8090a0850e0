// Pushing blobs: https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md#pushing-blobs
import Foundation
import OCI

extension RegistryClient {
    /// True if `repository` has the blob. A registry that answers with another digest than
    /// the one asked for (`Docker-Content-Digest`) does not have it, whatever its status says.
    /// `actions` are the token scope to ask for: "pull,push" when a push follows, so one token serves both.
    public func hasBlob(_ repository: String, _ digest: Digest, actions: String = "pull") async throws -> Bool {
        let operation = RegistryOperation(
            method: .HEAD, url: "/v2/\(repository)/blobs/\(digest)", scopes: [Self.scope(repository, actions)],
            what: "HEAD of blob \(digest) in \(repository)")
        let (answer, _) = try await smallAnswer(operation, limit: 64 << 10)
        switch answer.status {
        // A registry on object storage answers a blob it has with a redirect to it.
        case 200, 301, 302, 303, 307, 308:
            if let reported = answer.header("Docker-Content-Digest"), reported != digest.description { return false }
            return true
        case 404: return false
        default: throw await failure(answer, operation)
        }
    }

    /// Pushes the blob in `file` (`size` bytes, `digest`) to `repository` unless it is there
    /// already; mounts it from one of `mountFrom` (repositories of this registry known to
    /// have it) when the registry allows. Small blobs go in one request, large ones in chunks,
    /// resuming from the offset the registry reports after a failed chunk.
    /// `beforeUpload` runs only when the bytes must be sent (not for a blob the repository
    /// has or mounts): the place to check the local file. It runs in the caller's task, so
    /// checks of several blobs pushed at once run in parallel.
    public func pushBlob(
        _ repository: String, digest: Digest, size: Int64, file: String, mountFrom: [String] = [],
        beforeUpload: (@Sendable () throws -> Void)? = nil
    ) async throws -> BlobPush {
        if try await hasBlob(repository, digest, actions: "pull,push") { return .existed }
        var session: UploadSession?
        for source in mountFrom where source != repository {
            let operation = RegistryOperation(
                method: .POST, url: "/v2/\(repository)/blobs/uploads/?mount=\(digest)&from=\(source)",
                scopes: [Self.scope(repository, "pull,push"), Self.scope(source, "pull")],
                what: "mount of blob \(digest) from \(source) into \(repository)", deadline: .seconds(60))
            // A mount is a shortcut: any refusal (no pull access to the source, a source gone)
            // falls back to sending the bytes.
            guard let answer = try? await send(operation) else { continue }
            if answer.status == 201 {
                await answer.drain()
                try checkDigest(answer, digest, what: "mounted blob")
                return .mounted
            }
            await answer.drain()
            // 202: not mounted, and an upload session was opened instead.
            if answer.status == 202, let opened = UploadSession(answer) {
                session = opened
                break
            }
        }
        try beforeUpload?()
        let upload = BlobUpload(repository: repository, digest: digest, size: size, file: file)
        if size <= options.monolithicLimit {
            try await uploadMonolithic(upload, session: session)
        } else {
            try await uploadChunked(upload, session: session)
        }
        return .uploaded
    }

    /// One blob on its way up.
    struct BlobUpload: Sendable {
        var repository: String
        var digest: Digest
        var size: Int64
        var file: String

        var scopes: [String] { [RegistryClient.scope(repository, "pull,push")] }
    }

    /// An upload session the registry opened: where to send bytes, and its minimum chunk.
    struct UploadSession: Sendable {
        var location: String
        var minimumChunk: Int64?

        init?(_ answer: RegistryAnswer) {
            guard let location = answer.location else { return nil }
            self.location = location
            minimumChunk = answer.header("OCI-Chunk-Min-Length").flatMap { Int64($0) }
        }
    }

    /// Opens an upload session.
    private func startUpload(_ upload: BlobUpload) async throws -> UploadSession {
        let operation = RegistryOperation(
            method: .POST, url: "/v2/\(upload.repository)/blobs/uploads/", scopes: upload.scopes,
            what: "start of the upload of blob \(upload.digest) to \(upload.repository)", deadline: .seconds(60))
        let answer = try await send(operation)
        guard answer.status == 202, let session = UploadSession(answer) else {
            throw await failure(answer, operation)
        }
        await answer.drain()
        return session
    }

    /// POST then one PUT with the whole blob. A failed PUT starts again with a new session.
    private func uploadMonolithic(_ upload: BlobUpload, session: UploadSession?) async throws {
        var session = session
        var retry = 0
        while true {
            let location: String
            if let open = session { location = open.location; session = nil } else { location = try await startUpload(upload).location }
            let operation = RegistryOperation(
                method: .PUT, url: Self.appending(location, "digest=\(upload.digest)"),
                body: .file(path: upload.file, offset: 0, length: upload.size),
                scopes: upload.scopes, what: "upload of blob \(upload.digest) to \(upload.repository)", retries: false)
            do {
                let answer = try await send(operation)
                if answer.status == 201 || answer.status == 204 {
                    await answer.drain()
                    try checkDigest(answer, upload.digest, what: "uploaded blob")
                    return
                }
                guard answer.status == 429 || (500...599).contains(answer.status), retry + 1 < options.retry.attempts else {
                    throw await failure(answer, operation)
                }
                await answer.drain()
            } catch let error as RegistryError {
                guard case .unreachable = error, retry + 1 < options.retry.attempts else { throw error }
            }
            retry += 1
            try await pause(options.retry.delay(retry: retry, retryAfter: nil))
        }
    }

    /// PATCH chunks with Content-Range, then PUT with the digest. After a failed chunk, asks
    /// the registry how much it has and goes on from there; if it has lost the session,
    /// starts a new one.
    private func uploadChunked(_ upload: BlobUpload, session: UploadSession?, restarts: Int = 0) async throws {
        let digest = upload.digest, repository = upload.repository, size = upload.size
        let opened: UploadSession
        if let session { opened = session } else { opened = try await startUpload(upload) }
        var location = opened.location
        var chunk = max(options.chunkSize, opened.minimumChunk ?? 0)
        var offset: Int64 = 0
        var failures = 0
        while offset < size {
            let length = min(chunk, size - offset)
            let operation = RegistryOperation(
                method: .PATCH, url: location,
                headers: [("Content-Range", "\(offset)-\(offset + length - 1)")],
                body: .file(path: upload.file, offset: offset, length: length),
                scopes: upload.scopes, what: "upload of bytes \(offset)-\(offset + length - 1) of blob \(digest) to \(repository)",
                retries: false)
            var failed: String?
            do {
                let answer = try await send(operation)
                // 202 as the spec says; some registries (ECR) answer 201.
                if answer.status == 202 || answer.status == 201 || answer.status == 204, let next = answer.location {
                    await answer.drain()
                    location = next
                    offset = Self.uploadedLength(answer.header("Range")) ?? (offset + length)
                    continue
                }
                guard answer.status == 429 || (500...599).contains(answer.status) || answer.status == 416 else {
                    throw await failure(answer, operation)
                }
                failed = "status \(answer.status)"
                await answer.drain()
            } catch RegistryError.unreachable(_, _, let cause) {
                failed = "\(cause)"
            }
            failures += 1
            guard failures < options.retry.attempts * 2 else {
                throw RegistryError.unavailable(host: host, operation: "the upload of blob \(digest) to \(repository)", status: 0, detail: failed ?? "")
            }
            try await pause(options.retry.delay(retry: min(failures, options.retry.attempts), retryAfter: nil))
            // Where does the registry stand? GET on the session reports the range it has.
            let status = RegistryOperation(
                method: .GET, url: location, scopes: upload.scopes, what: "status of the upload of blob \(digest) to \(repository)",
                deadline: .seconds(60))
            let answer = try await send(status)
            await answer.drain()
            if answer.status == 204 {
                if let next = answer.location { location = next }
                offset = Self.uploadedLength(answer.header("Range")) ?? 0
            } else {
                // The registry dropped the session (distribution cancels one whose stored size
                // and state disagree): start over.
                let reopened = try await startUpload(upload)
                location = reopened.location
                chunk = max(chunk, reopened.minimumChunk ?? 0)
                offset = 0
            }
        }
        let finish = RegistryOperation(
            method: .PUT, url: Self.appending(location, "digest=\(digest)"), scopes: upload.scopes,
            what: "completion of the upload of blob \(digest) to \(repository)")
        let answer = try await send(finish)
        guard answer.status == 201 || answer.status == 204 else {
            // The answer to a completed upload may have been lost and the retry refused: the
            // registry has the blob if HEAD says so.
            if answer.status == 404, try await hasBlob(repository, digest, actions: "pull,push") {
                await answer.drain()
                return
            }
            // A connection dropped mid-chunk can leave part of that chunk in the registry's
            // upload after it reported its range; the bytes then do not hash to the digest.
            // Such an upload is sent again from the start, once per failure seen, not forever.
            if answer.status == 400, failures > 0, restarts < options.retry.attempts {
                await answer.drain()
                return try await uploadChunked(upload, session: nil, restarts: restarts + 1)
            }
            throw await failure(answer, finish)
        }
        await answer.drain()
        try checkDigest(answer, digest, what: "uploaded blob")
    }

    /// Checks the `Docker-Content-Digest` a registry reports against ours.
    func checkDigest(_ answer: RegistryAnswer, _ digest: Digest, what: String) throws {
        if let reported = answer.header("Docker-Content-Digest"), reported != digest.description {
            throw RegistryError.digestMismatch(host: host, what: "the \(what) \(digest)", expected: digest, actual: reported)
        }
    }

    /// How many bytes an upload holds, from `Range: 0-N` (some registries write `bytes=0-N`).
    /// distribution writes `0-0` for an empty upload as well as for one byte; bake never sends
    /// a 1-byte chunk, so `0-0` means nothing yet.
    static func uploadedLength(_ header: String?) -> Int64? {
        guard var text = header else { return nil }
        if text.hasPrefix("bytes=") { text.removeFirst(6) }
        guard let dash = text.firstIndex(of: "-"), let end = Int64(text[text.index(after: dash)...]) else { return nil }
        return end == 0 ? 0 : end + 1
    }

    /// `url` with a query parameter added.
    static func appending(_ url: String, _ parameter: String) -> String {
        url + (url.contains("?") ? "&" : "?") + parameter
    }
}
