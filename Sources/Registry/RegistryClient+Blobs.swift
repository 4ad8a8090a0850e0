// Blobs: https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md#pushing-blobs
import AsyncHTTPClient
import struct Crypto.SHA256
import Foundation
import NIOCore
import NIOHTTP1
import OCI

/// What pushing one blob took.
public enum BlobPush: String, Sendable, Codable {
    /// The repository already had it (HEAD answered 200): nothing sent.
    case existed
    /// Mounted from another repository of the same registry: nothing sent.
    case mounted
    /// Its bytes were sent.
    case uploaded
}

extension RegistryClient {
    /// True if `repository` has the blob.
    /// `actions` are the token scope to ask for: "pull,push" when a push follows, so one token serves both.
    public func hasBlob(_ repository: String, _ digest: Digest, actions: String = "pull") async throws -> Bool {
        let operation = Operation(
            method: .HEAD, url: "/v2/\(repository)/blobs/\(digest)", scopes: [Self.scope(repository, actions)],
            what: "HEAD of blob \(digest) in \(repository)", deadline: .seconds(60))
        let answer = try await send(operation)
        switch answer.status {
        // A registry on object storage answers a blob it has with a redirect to it.
        case 200, 301, 302, 303, 307, 308:
            await answer.drain()
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
    /// has or mounts): the place to check the local file.
    public func pushBlob(
        _ repository: String, digest: Digest, size: Int64, file: String, mountFrom: [String] = [],
        beforeUpload: (@Sendable () throws -> Void)? = nil
    ) async throws -> BlobPush {
        if try await hasBlob(repository, digest, actions: "pull,push") { return .existed }
        var session: (String, Int64?)?
        for source in mountFrom where source != repository {
            let operation = Operation(
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
            if answer.status == 202, let location = answer.location {
                session = (location, answer.header("OCI-Chunk-Min-Length").flatMap { Int64($0) })
                break
            }
        }
        try beforeUpload?()
        if size <= options.monolithicLimit {
            try await uploadMonolithic(repository, digest: digest, size: size, file: file, session: session?.0)
        } else {
            try await uploadChunked(repository, digest: digest, size: size, file: file, session: session)
        }
        return .uploaded
    }

    /// Opens an upload session: the Location to send bytes to and the registry's minimum chunk.
    private func startUpload(_ repository: String, digest: Digest) async throws -> (String, Int64?) {
        let operation = Operation(
            method: .POST, url: "/v2/\(repository)/blobs/uploads/", scopes: [Self.scope(repository, "pull,push")],
            what: "start of the upload of blob \(digest) to \(repository)", deadline: .seconds(60))
        let answer = try await send(operation)
        guard answer.status == 202, let location = answer.location else {
            throw await failure(answer, operation)
        }
        await answer.drain()
        return (location, answer.header("OCI-Chunk-Min-Length").flatMap { Int64($0) })
    }

    /// POST then one PUT with the whole blob. A failed PUT starts again with a new session.
    private func uploadMonolithic(_ repository: String, digest: Digest, size: Int64, file: String, session: String?) async throws {
        var session = session
        var retry = 0
        while true {
            let location: String
            if let open = session { location = open; session = nil } else { location = try await startUpload(repository, digest: digest).0 }
            let operation = Operation(
                method: .PUT, url: Self.appending(location, "digest=\(digest)"), body: .file(path: file, offset: 0, length: size),
                scopes: [Self.scope(repository, "pull,push")], what: "upload of blob \(digest) to \(repository)", retries: false)
            do {
                let answer = try await send(operation)
                if answer.status == 201 || answer.status == 204 {
                    await answer.drain()
                    try checkDigest(answer, digest, what: "uploaded blob")
                    return
                }
                guard answer.status == 429 || (500...599).contains(answer.status), retry + 1 < options.retry.attempts else {
                    throw await failure(answer, operation)
                }
                await answer.drain()
            } catch RegistryError.unreachable(let host, let cause) {
                guard retry + 1 < options.retry.attempts else { throw RegistryError.unreachable(host: host, cause: cause) }
            }
            retry += 1
            try await Task.sleep(nanoseconds: UInt64(options.retry.delay(retry: retry, retryAfter: nil) * 1e9))
        }
    }

    /// PATCH chunks with Content-Range, then PUT with the digest. After a failed chunk, asks
    /// the registry how much it has and goes on from there; if it has lost the session,
    /// starts a new one.
    private func uploadChunked(
        _ repository: String, digest: Digest, size: Int64, file: String, session: (String, Int64?)?, restarts: Int = 0
    ) async throws {
        let scopes = [Self.scope(repository, "pull,push")]
        var chunk = options.chunkSize
        let (opened, minimum): (String, Int64?)
        if let session { (opened, minimum) = session } else { (opened, minimum) = try await startUpload(repository, digest: digest) }
        var location = opened
        if let minimum { chunk = max(chunk, minimum) }
        var offset: Int64 = 0
        var failures = 0
        while offset < size {
            let length = min(chunk, size - offset)
            let operation = Operation(
                method: .PATCH, url: location,
                headers: [("Content-Range", "\(offset)-\(offset + length - 1)")],
                body: .file(path: file, offset: offset, length: length),
                scopes: scopes, what: "upload of bytes \(offset)-\(offset + length - 1) of blob \(digest) to \(repository)",
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
            } catch RegistryError.unreachable(_, let cause) {
                failed = cause
            }
            failures += 1
            guard failures < options.retry.attempts * 2 else {
                throw RegistryError.unavailable(host: host, operation: "the upload of blob \(digest) to \(repository)", status: 0, detail: failed ?? "")
            }
            try await Task.sleep(nanoseconds: UInt64(options.retry.delay(retry: min(failures, options.retry.attempts), retryAfter: nil) * 1e9))
            // Where does the registry stand? GET on the session reports the range it has.
            let status = Operation(
                method: .GET, url: location, scopes: scopes, what: "status of the upload of blob \(digest) to \(repository)",
                deadline: .seconds(60))
            let answer = try await send(status)
            await answer.drain()
            if answer.status == 204 {
                if let next = answer.location { location = next }
                offset = Self.uploadedLength(answer.header("Range")) ?? 0
            } else {
                // The registry dropped the session (distribution cancels one whose stored size
                // and state disagree): start over.
                let (opened, minimum) = try await startUpload(repository, digest: digest)
                location = opened
                if let minimum { chunk = max(chunk, minimum) }
                offset = 0
            }
        }
        let finish = Operation(
            method: .PUT, url: Self.appending(location, "digest=\(digest)"), scopes: scopes,
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
                return try await uploadChunked(repository, digest: digest, size: size, file: file, session: nil, restarts: restarts + 1)
            }
            throw await failure(answer, finish)
        }
        await answer.drain()
        try checkDigest(answer, digest, what: "uploaded blob")
    }

    /// Downloads a blob into `path`, hashing as it goes; throws (and removes the file) if the
    /// bytes do not match `digest` or `size`. Follows a redirect to storage without sending
    /// credentials there.
    public func pullBlob(_ repository: String, digest: Digest, size: Int64?, to path: String) async throws {
        var retry = 0
        while true {
            do {
                try await pullBlobOnce(repository, digest: digest, size: size, to: path)
                return
            } catch RegistryError.unreachable(let host, let cause) {
                retry += 1
                guard retry < options.retry.attempts else { throw RegistryError.unreachable(host: host, cause: cause) }
                try await Task.sleep(nanoseconds: UInt64(options.retry.delay(retry: retry, retryAfter: nil) * 1e9))
            }
        }
    }

    private func pullBlobOnce(_ repository: String, digest: Digest, size: Int64?, to path: String) async throws {
        let operation = Operation(
            method: .GET, url: "/v2/\(repository)/blobs/\(digest)", scopes: [Self.scope(repository, "pull")],
            what: "download of blob \(digest) from \(repository)")
        var answer = try await send(operation)
        // Registries on object storage redirect to it: followed (a few hops at most) without
        // the registry's credentials.
        var hops = 0
        while (300...399).contains(answer.status), let target = answer.location {
            await answer.drain()
            hops += 1
            guard hops <= 5 else {
                throw RegistryError.invalidResponse(host: host, operation: operation.what, detail: "more than 5 redirects")
            }
            var request = HTTPClientRequest(url: target)
            request.headers.add(name: "User-Agent", value: "bake")
            do {
                let response = try await http.execute(request, timeout: .hours(1))
                answer = Answer(status: Int(response.status.code), headers: response.headers, body: response.body, url: target)
            } catch {
                throw RegistryError.unreachable(host: host, cause: "download of blob \(digest) from \(Self.origin(target)): \(Self.describe(error))")
            }
            if !(300...399).contains(answer.status), answer.status != 200 {
                await answer.drain()
                throw RegistryError.invalidResponse(
                    host: host, operation: operation.what, detail: "the storage it redirected to (\(Self.origin(target))) answered \(answer.status)")
            }
        }
        guard answer.status == 200 else {
            if answer.status == 404 {
                let (code, _) = await answer.errorDetail()
                if code == "NAME_UNKNOWN" { throw RegistryError.unknownRepository(host: host, repository: repository) }
                throw RegistryError.unknownBlob(host: host, repository: repository, digest: digest)
            }
            throw await failure(answer, operation)
        }
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            await answer.drain()
            throw RegistryError.localFile(path: path, cause: String(cString: strerror(errno)))
        }
        var hasher = SHA256()
        var count: Int64 = 0
        do {
            defer { close(descriptor) }
            for try await buffer in answer.body {
                count += Int64(buffer.readableBytes)
                if let size, count > size {
                    throw RegistryError.digestMismatch(host: host, what: "blob \(digest) of \(repository)", expected: digest, actual: "more bytes than its \(size)")
                }
                try buffer.withUnsafeReadableBytes { bytes in
                    hasher.update(bufferPointer: bytes)
                    var written = 0
                    while written < bytes.count {
                        let result = write(descriptor, bytes.baseAddress! + written, bytes.count - written)
                        if result < 0 && errno == EINTR { continue }
                        guard result > 0 else { throw RegistryError.localFile(path: path, cause: String(cString: strerror(errno))) }
                        written += result
                    }
                }
            }
        } catch let error as RegistryError {
            unlink(path)
            throw error
        } catch {
            unlink(path)
            throw RegistryError.unreachable(host: host, cause: "download of blob \(digest) from \(repository): \(Self.describe(error))")
        }
        let actual = Digest(sha256: hasher.finalize())
        guard actual == digest, size == nil || size == count else {
            unlink(path)
            throw RegistryError.digestMismatch(
                host: host, what: "the bytes of blob \(digest) of \(repository)", expected: digest,
                actual: actual == digest ? "\(count) bytes instead of \(size ?? 0)" : actual.description)
        }
    }

    // MARK: Helpers

    /// Checks the `Docker-Content-Digest` a registry reports against ours.
    func checkDigest(_ answer: Answer, _ digest: Digest, what: String) throws {
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
