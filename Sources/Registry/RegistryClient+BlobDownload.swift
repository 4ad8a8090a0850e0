// Pulling blobs: https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md#pulling-blobs
import struct Crypto.SHA256
import Glibc
import NIOHTTP1
import OCI

extension RegistryClient {
    /// Downloads a blob into `path`, hashing as it goes; throws (and removes the file) if the
    /// bytes do not match `digest` or `size`. Follows a redirect to storage without sending
    /// credentials there. A dropped connection starts the download again. The bytes are
    /// hashed and written in the caller's task: blobs pulled at once are hashed in parallel.
    public func pullBlob(_ repository: String, digest: Digest, size: Int64?, to path: String) async throws {
        var retry = 0
        while true {
            do {
                try await pullBlobOnce(repository, digest: digest, size: size, to: path)
                return
            } catch let error as RegistryError {
                guard case .unreachable = error else { throw error }
                retry += 1
                guard retry < options.retry.attempts else { throw error }
                try await pause(options.retry.delay(retry: retry, retryAfter: nil))
            }
        }
    }

    private func pullBlobOnce(_ repository: String, digest: Digest, size: Int64?, to path: String) async throws {
        let operation = RegistryOperation(
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
            var headers = HTTPHeaders()
            headers.add(name: "User-Agent", value: "bake")
            do {
                let response = try await transport.execute(TransportRequest(method: .GET, url: target, headers: headers, timeout: .seconds(3600)))
                answer = RegistryAnswer(response, url: target)
            } catch let failure as TransportError {
                throw RegistryError.unreachable(host: host, operation: "download of blob \(digest) from \(Self.origin(target))", cause: failure)
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
            let code = errno
            await answer.drain()
            throw RegistryError.localFile(operation: "write", path: path, errno: code)
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
                        guard result > 0 else { throw RegistryError.localFile(operation: "write", path: path, errno: result < 0 ? errno : EIO) }
                        written += result
                    }
                }
            }
        } catch let failure as TransportError {
            unlink(path)
            throw RegistryError.unreachable(host: host, operation: "download of blob \(digest) from \(repository)", cause: failure)
        } catch {
            unlink(path)
            throw error
        }
        let actual = Digest(sha256: hasher.finalize())
        guard actual == digest, size == nil || size == count else {
            unlink(path)
            throw RegistryError.digestMismatch(
                host: host, what: "the bytes of blob \(digest) of \(repository)", expected: digest,
                actual: actual == digest ? "\(count) bytes instead of \(size ?? 0)" : actual.description)
        }
    }
}
