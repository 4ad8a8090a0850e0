import struct Crypto.SHA256
import Foundation
import NIOCore
import NIOHTTP1
import OCI
import Registry
import Synchronization

/// A registry in memory behind Registry's `HTTPTransport` seam: the parts of the distribution
/// spec bake uses (probe, blobs, chunked and monolithic uploads, mounts, manifests, tag pages),
/// basic auth or a token server, and a storage host blobs and uploads can be sent to. Faults
/// are injected per request; every request is logged as it arrived, so tests count probes,
/// tokens and retries and see the headers each carried. No process, no socket.
///
/// Hosts: `reg.test` (the registry), `auth.test` (its token server), `storage.test` (another
/// origin: object storage, an upload host, a tag-list mirror).
public final class FakeRegistry: HTTPTransport {
    public static let host = "reg.test"
    public static let authHost = "auth.test"
    public static let storageHost = "storage.test"

    /// What the registry asks of a client.
    public enum Auth: Sendable {
        case anonymous
        /// HTTP basic auth with these credentials.
        case basic(RegistryCredentials)
        /// Bearer tokens from `https://auth.test/token`, which wants these credentials (nil: anyone).
        case bearer(RegistryCredentials?)
    }

    /// How the registry lays out its answers.
    public struct Layout: Sendable {
        /// GET of a blob answers 307 to `https://storage.test/blobs/DIGEST`.
        public var redirectBlobs = false
        /// Upload sessions live at `https://storage.test/uploads/ID` (an absolute Location).
        public var uploadsOnStorage = false
        /// Tags per page of the tag list; nil: all in one.
        public var tagPageSize: Int?
        /// The next page of tags is on `storage.test`.
        public var tagLinksOnStorage = false
        /// `OCI-Chunk-Min-Length` of upload sessions.
        public var minimumChunk: Int?
        /// The token realm a bearer challenge names (a test of where credentials may go);
        /// its host is answered as `auth.test` whatever the scheme.
        public var tokenRealm = "https://\(FakeRegistry.authHost)/token"

        public init() {}
    }

    /// A request as it arrived.
    public struct Request: Sendable {
        public var method: String
        public var url: String
        public var headers: HTTPHeaders
        public var body: [UInt8]

        public var components: URLComponents { URLComponents(string: url) ?? URLComponents() }
        public var host: String { components.host.map { $0 + (components.port.map { ":\($0)" } ?? "") } ?? "" }
        /// The path and query.
        public var path: String { components.percentEncodedPath + (components.percentEncodedQuery.map { "?" + $0 } ?? "") }
        public func header(_ name: String) -> String? { headers.first(name: name) }
        public func query(_ name: String) -> [String] { (components.queryItems ?? []).filter { $0.name == name }.compactMap(\.value) }
        /// `GET /v2/` of the registry.
        public var isProbe: Bool { host == FakeRegistry.host && components.path == "/v2/" }
        /// A request to the token server.
        public var isToken: Bool { host == FakeRegistry.authHost }
    }

    /// What goes wrong with a request.
    public enum Fault: Sendable {
        /// Answered with this status (and headers) without reaching the registry.
        case status(Int, headers: [String: String] = [:])
        /// The connection drops before anything reaches the registry.
        case drop
        /// The registry handles the request, then the connection drops: the answer is lost.
        case dropAfterHandling
        /// Only the first bytes of the request body reach the registry, then the connection drops.
        case dropAfterBodyBytes(Int)
        /// The response body breaks off after this many bytes.
        case truncateResponse(afterBytes: Int)
        /// One byte of the response body is flipped.
        case tamperResponse
        /// A response header is replaced.
        case header(String, String)
        /// The response body arrives one byte at a time, `every` apart (a registry that
        /// trickles its answer to keep a client waiting).
        case trickle(every: Duration)
    }

    private struct Rule {
        var fault: Fault
        var times: Int
        var when: @Sendable (Request) -> Bool
    }

    private struct Stored {
        var bytes: [UInt8]
        var mediaType: String
    }

    private struct Upload {
        var repository: String
        var bytes: [UInt8] = []
    }

    private struct Hold {
        var count: Int
        var waiting: [CheckedContinuation<Void, Never>] = []
        var timedOut = false
    }

    private struct State {
        var blobs: [String: [String: [UInt8]]] = [:]
        var manifests: [String: [String: Stored]] = [:]
        var uploads: [String: Upload] = [:]
        var nextUpload = 1
        var tokens: [String: Set<String>] = [:]
        var log: [Request] = []
        var rules: [Rule] = []
        var hold: Hold?
        var downloadsInFlight = 0
        var mostDownloadsInFlight = 0
        var shutdowns = 0
    }

    public let auth: Auth
    public let layout: Layout
    private let state = Mutex(State())

    public init(auth: Auth = .anonymous, layout: Layout = Layout()) {
        self.auth = auth
        self.layout = layout
    }

    public func shutdown() async {
        state.withLock { $0.shutdowns += 1 }
    }

    /// How many times `shutdown()` was called.
    public var shutdowns: Int { state.withLock { $0.shutdowns } }

    // MARK: Contents

    /// Adds a blob to `repository`.
    @discardableResult
    public func put(blob bytes: [UInt8], in repository: String) -> Digest {
        let digest = Self.digest(bytes)
        state.withLock { $0.blobs[repository, default: [:]][digest.description] = bytes }
        return digest
    }

    /// Adds a manifest to `repository`, by its digest and `tag`.
    @discardableResult
    public func put(manifest bytes: [UInt8], mediaType: MediaType = .imageManifest, in repository: String, tag: String? = nil) -> Digest {
        let digest = Self.digest(bytes)
        state.withLock { state in
            for reference in [digest.description] + (tag.map { [$0] } ?? []) {
                state.manifests[repository, default: [:]][reference] = Stored(bytes: bytes, mediaType: mediaType.rawValue)
            }
        }
        return digest
    }

    /// The blob `repository` holds, if any.
    public func blob(_ digest: Digest, in repository: String) -> [UInt8]? {
        state.withLock { $0.blobs[repository]?[digest.description] }
    }

    /// The manifest `reference` names in `repository`, if any.
    public func manifest(_ reference: String, in repository: String) -> [UInt8]? {
        state.withLock { $0.manifests[repository]?[reference]?.bytes }
    }

    /// Every request so far, in the order they arrived.
    public var requests: [Request] { state.withLock { $0.log } }

    /// Requests to the registry other than the probe.
    public var registryRequests: [Request] { requests.filter { $0.host == Self.host && !$0.isProbe } }

    /// `fault` for the next `times` requests `when` holds for.
    public func inject(_ fault: Fault, times: Int = 1, when: @escaping @Sendable (Request) -> Bool) {
        state.withLock { $0.rules.append(Rule(fault: fault, times: times, when: when)) }
    }

    /// Holds blob downloads until `count` are waiting at once, then lets them all go (and
    /// every later one straight through). If they never get there, they go after 30 s and
    /// `holdTimedOut` says so: a test fails, it does not hang.
    public func holdDownloads(until count: Int) {
        state.withLock { $0.hold = Hold(count: count) }
    }

    /// True when held downloads were let go because not enough came at once.
    public var holdTimedOut: Bool { state.withLock { $0.hold?.timedOut ?? false } }

    /// The most blob downloads the registry was answering at once.
    public var mostDownloadsInFlight: Int { state.withLock { $0.mostDownloadsInFlight } }

    public static func digest(_ bytes: [UInt8]) -> Digest { Digest(sha256: SHA256.hash(data: bytes)) }

    // MARK: Transport

    public func execute(_ request: TransportRequest) async throws -> TransportResponse {
        let body = try await request.body?.stream.collect(upTo: 1 << 30) ?? []
        var arrived = Request(method: request.method.rawValue, url: request.url, headers: request.headers, body: body)
        let fault = state.withLock { state -> Fault? in
            state.log.append(arrived)
            guard let index = state.rules.firstIndex(where: { $0.times > 0 && $0.when(arrived) }) else { return nil }
            state.rules[index].times -= 1
            return state.rules[index].fault
        }
        let dropped = TransportError(.connectionLost, "connection reset by peer")
        switch fault {
        case .status(let status, let headers)?:
            var answer = HTTPHeaders()
            for (name, value) in headers { answer.add(name: name, value: value) }
            return TransportResponse(status: status, headers: answer, body: ByteStream(bytes: Self.errors("INJECTED", "injected fault")))
        case .drop?:
            throw dropped
        case .dropAfterHandling?:
            _ = await handle(arrived)
            throw dropped
        case .dropAfterBodyBytes(let count)?:
            arrived.body = Array(arrived.body.prefix(count))
            _ = await handle(arrived)
            throw dropped
        case .truncateResponse(let count)?:
            let response = await handle(arrived)
            let bytes = try await response.body.collect(upTo: 1 << 30)
            return TransportResponse(status: response.status, headers: response.headers, body: ByteStream(Truncated(bytes: Array(bytes.prefix(count)))))
        case .tamperResponse?:
            let response = await handle(arrived)
            var bytes = try await response.body.collect(upTo: 1 << 30)
            if !bytes.isEmpty { bytes[bytes.count / 2] ^= 0xFF }
            return TransportResponse(status: response.status, headers: response.headers, body: ByteStream(bytes: bytes))
        case .header(let name, let value)?:
            var response = await handle(arrived)
            response.headers.replaceOrAdd(name: name, value: value)
            return response
        case .trickle(let interval)?:
            let response = await handle(arrived)
            let bytes = try await response.body.collect(upTo: 1 << 30)
            return TransportResponse(status: response.status, headers: response.headers, body: ByteStream(Trickled(bytes: bytes, interval: interval)))
        case nil:
            return await handle(arrived)
        }
    }

    /// A body that breaks off: its bytes, then a dropped connection.
    private struct Truncated: AsyncSequence, Sendable {
        typealias Element = ByteBuffer
        let bytes: [UInt8]
        struct AsyncIterator: AsyncIteratorProtocol {
            var bytes: [UInt8]?
            mutating func next() async throws -> ByteBuffer? {
                guard let rest = bytes else { throw TransportError(.connectionLost, "connection reset by peer") }
                bytes = nil
                return ByteBuffer(bytes: rest)
            }
        }
        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(bytes: bytes) }
    }

    /// A body that arrives one byte per `interval`; a cancelled reader stops waiting.
    private struct Trickled: AsyncSequence, Sendable {
        typealias Element = ByteBuffer
        let bytes: [UInt8]
        let interval: Duration
        struct AsyncIterator: AsyncIteratorProtocol {
            var rest: ArraySlice<UInt8>
            let interval: Duration
            var ended = false
            /// A wait before each byte and before the end, so even an empty body takes its time.
            mutating func next() async throws -> ByteBuffer? {
                guard !ended else { return nil }
                try await Task.sleep(for: interval)
                guard let byte = rest.popFirst() else {
                    ended = true
                    return nil
                }
                return ByteBuffer(bytes: [byte])
            }
        }
        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(rest: bytes[...], interval: interval) }
    }

    // MARK: The registry

    private func handle(_ request: Request) async -> TransportResponse {
        let path = request.components.path
        switch request.host {
        case Self.authHost:
            return token(request)
        case Self.storageHost:
            if path.hasPrefix("/blobs/") {
                let digest = String(path.dropFirst("/blobs/".count))
                let bytes = state.withLock { $0.blobs.values.compactMap { $0[digest] }.first }
                guard let bytes else { return Self.answer(404, code: "BLOB_UNKNOWN") }
                return TransportResponse(status: 200, headers: ["Content-Length": "\(bytes.count)"], body: ByteStream(bytes: bytes))
            }
            if path.hasPrefix("/uploads/") { return session(request, id: String(path.dropFirst("/uploads/".count))) }
            if let route = Route(path), route.kind == "tags" { return tags(request, repository: route.repository) }
            return Self.answer(404, code: "NOT_FOUND")
        case Self.host:
            break
        default:
            return Self.answer(404, code: "NO_SUCH_HOST")
        }
        if path == "/v2/" {
            return authorized(request, needs: []) ? TransportResponse(status: 200) : challenge(scope: nil)
        }
        guard let route = Route(path) else { return Self.answer(404, code: "NOT_FOUND") }
        var needs: Set<String> = ["repository:\(route.repository):pull"]
        if request.method != "GET" && request.method != "HEAD" { needs.insert("repository:\(route.repository):push") }
        for source in request.query("from") { needs.insert("repository:\(source):pull") }
        guard authorized(request, needs: needs) else {
            let actions = request.method == "GET" || request.method == "HEAD" ? "pull" : "pull,push"
            return challenge(scope: "repository:\(route.repository):\(actions)")
        }
        switch (route.kind, request.method) {
        case ("blobs", "HEAD"), ("blobs", "GET"):
            if route.rest.hasPrefix("uploads/") { return session(request, id: String(route.rest.dropFirst("uploads/".count))) }
            return await blob(request, repository: route.repository, digest: route.rest)
        case ("blobs", "POST") where route.rest == "uploads/":
            return startUpload(request, repository: route.repository)
        case ("blobs", _) where route.rest.hasPrefix("uploads/"):
            return session(request, id: String(route.rest.dropFirst("uploads/".count)))
        case ("manifests", "GET"), ("manifests", "HEAD"):
            guard let stored = state.withLock({ $0.manifests[route.repository]?[route.rest] }) else {
                return Self.answer(404, code: "MANIFEST_UNKNOWN")
            }
            return TransportResponse(
                status: 200,
                headers: ["Content-Type": stored.mediaType, "Docker-Content-Digest": Self.digest(stored.bytes).description],
                body: ByteStream(bytes: request.method == "HEAD" ? [] : stored.bytes))
        case ("manifests", "PUT"):
            let digest = put(manifest: request.body, mediaType: MediaType(rawValue: request.header("Content-Type") ?? ""),
                             in: route.repository, tag: route.rest.contains(":") ? nil : route.rest)
            return TransportResponse(status: 201, headers: ["Docker-Content-Digest": digest.description])
        case ("tags", "GET"):
            return tags(request, repository: route.repository)
        default:
            return Self.answer(405, code: "UNSUPPORTED")
        }
    }

    /// `/v2/NAME/KIND/REST` with KIND blobs, manifests or tags.
    private struct Route {
        var repository: String
        var kind: String
        var rest: String

        init?(_ path: String) {
            guard path.hasPrefix("/v2/") else { return nil }
            let inner = path.dropFirst(4)
            for kind in ["blobs", "manifests", "tags"] {
                if let range = inner.range(of: "/\(kind)/") {
                    repository = String(inner[..<range.lowerBound])
                    self.kind = kind
                    rest = String(inner[range.upperBound...])
                    return
                }
            }
            return nil
        }
    }

    private func blob(_ request: Request, repository: String, digest: String) async -> TransportResponse {
        guard let bytes = state.withLock({ $0.blobs[repository]?[digest] }) else { return Self.answer(404, code: "BLOB_UNKNOWN") }
        let headers: HTTPHeaders = ["Docker-Content-Digest": digest, "Content-Length": "\(bytes.count)"]
        guard request.method == "GET" else { return TransportResponse(status: 200, headers: headers) }
        if layout.redirectBlobs {
            return TransportResponse(status: 307, headers: ["Location": "https://\(Self.storageHost)/blobs/\(digest)"])
        }
        await download()
        return TransportResponse(status: 200, headers: headers, body: ByteStream(bytes: bytes))
    }

    /// One blob download under way: counted, and held while `holdDownloads` says so.
    private func download() async {
        let held = state.withLock { state -> Bool in
            state.downloadsInFlight += 1
            state.mostDownloadsInFlight = max(state.mostDownloadsInFlight, state.downloadsInFlight)
            return (state.hold?.count ?? 0) > 0
        }
        if held {
            let watchdog = Task {
                try await Task.sleep(nanoseconds: 30_000_000_000)
                release(timedOut: true)
            }
            await withCheckedContinuation { continuation in
                let full = state.withLock { state -> Bool? in
                    guard var hold = state.hold, hold.count > 0 else { return nil }
                    hold.waiting.append(continuation)
                    state.hold = hold
                    return hold.waiting.count >= hold.count
                }
                switch full {
                case nil: continuation.resume()
                case true?: release(timedOut: false)
                case false?: break
                }
            }
            watchdog.cancel()
        }
        state.withLock { $0.downloadsInFlight -= 1 }
    }

    /// Lets every held download go; holds no more.
    private func release(timedOut: Bool) {
        let waiting = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard var hold = state.hold, hold.count > 0 else { return [] }
            let waiting = hold.waiting
            hold.waiting = []
            hold.count = 0
            hold.timedOut = timedOut
            state.hold = hold
            return waiting
        }
        for continuation in waiting { continuation.resume() }
    }

    private func startUpload(_ request: Request, repository: String) -> TransportResponse {
        if let digest = request.query("mount").first, let source = request.query("from").first,
           let bytes = state.withLock({ $0.blobs[source]?[digest] }) {
            state.withLock { $0.blobs[repository, default: [:]][digest] = bytes }
            return TransportResponse(status: 201, headers: ["Docker-Content-Digest": digest, "Location": "/v2/\(repository)/blobs/\(digest)"])
        }
        let id = state.withLock { state -> String in
            let id = "u\(state.nextUpload)"
            state.nextUpload += 1
            state.uploads[id] = Upload(repository: repository)
            return id
        }
        var headers: HTTPHeaders = ["Location": location(id, repository: repository), "Range": "0-0"]
        if let minimum = layout.minimumChunk { headers.add(name: "OCI-Chunk-Min-Length", value: "\(minimum)") }
        return TransportResponse(status: 202, headers: headers)
    }

    private func location(_ id: String, repository: String) -> String {
        layout.uploadsOnStorage ? "https://\(Self.storageHost)/uploads/\(id)" : "/v2/\(repository)/blobs/uploads/\(id)"
    }

    private func session(_ request: Request, id: String) -> TransportResponse {
        guard let upload = state.withLock({ $0.uploads[id] }) else { return Self.answer(404, code: "BLOB_UPLOAD_UNKNOWN") }
        let here = location(id, repository: upload.repository)
        func range(_ count: Int) -> String { "0-\(max(0, count - 1))" }
        switch request.method {
        case "GET":
            return TransportResponse(status: 204, headers: ["Location": here, "Range": range(upload.bytes.count)])
        case "PATCH":
            if let header = request.header("Content-Range"), let start = Int(header.split(separator: "-").first ?? ""), start != upload.bytes.count {
                return TransportResponse(status: 416, headers: ["Range": range(upload.bytes.count)])
            }
            let count = state.withLock { state -> Int in
                state.uploads[id]?.bytes += request.body
                return state.uploads[id]?.bytes.count ?? 0
            }
            return TransportResponse(status: 202, headers: ["Location": here, "Range": range(count)])
        case "PUT":
            let bytes = upload.bytes + request.body
            guard let digest = request.query("digest").first, digest == Self.digest(bytes).description else {
                state.withLock { $0.uploads[id] = nil }
                return Self.answer(400, code: "DIGEST_INVALID")
            }
            state.withLock { state in
                state.uploads[id] = nil
                state.blobs[upload.repository, default: [:]][digest] = bytes
            }
            return TransportResponse(status: 201, headers: ["Docker-Content-Digest": digest, "Location": "/v2/\(upload.repository)/blobs/\(digest)"])
        default:
            return Self.answer(405, code: "UNSUPPORTED")
        }
    }

    private func tags(_ request: Request, repository: String) -> TransportResponse {
        guard let stored = state.withLock({ $0.manifests[repository] }) else { return Self.answer(404, code: "NAME_UNKNOWN") }
        let all = stored.keys.filter { !$0.contains(":") }.sorted()
        let after = all.filter { tag in request.query("last").first.map { tag > $0 } ?? true }
        let size = min(layout.tagPageSize ?? Int.max, Int(request.query("n").first ?? "") ?? Int.max)
        let page = Array(after.prefix(size))
        var headers: HTTPHeaders = ["Content-Type": "application/json"]
        if page.count < after.count, let last = page.last {
            let origin = layout.tagLinksOnStorage ? "https://\(Self.storageHost)" : ""
            headers.add(name: "Link", value: "<\(origin)/v2/\(repository)/tags/list?n=\(size)&last=\(last)>; rel=\"next\"")
        }
        struct List: Encodable { var name: String; var tags: [String] }
        let json = (try? JSONEncoder().encode(List(name: repository, tags: page))) ?? Data()
        return TransportResponse(status: 200, headers: headers, body: ByteStream(bytes: Array(json)))
    }

    // MARK: Auth

    private func authorized(_ request: Request, needs: Set<String>) -> Bool {
        switch auth {
        case .anonymous:
            return true
        case .basic(let credentials):
            return request.header("Authorization") == Self.basic(credentials)
        case .bearer:
            guard let value = request.header("Authorization"), value.hasPrefix("Bearer ") else { return false }
            guard let granted = state.withLock({ $0.tokens[String(value.dropFirst(7))] }) else { return false }
            return needs.isSubset(of: granted)
        }
    }

    private func challenge(scope: String?) -> TransportResponse {
        let header: String
        switch auth {
        case .basic: header = #"Basic realm="fake""#
        default: header = #"Bearer realm="\#(layout.tokenRealm)",service="\#(Self.host)""# + (scope.map { #",scope="\#($0)""# } ?? "")
        }
        var response = Self.answer(401, code: "UNAUTHORIZED")
        response.headers.add(name: "WWW-Authenticate", value: header)
        return response
    }

    private func token(_ request: Request) -> TransportResponse {
        guard case .bearer(let wanted) = auth, request.components.path == "/token" else { return Self.answer(404, code: "NOT_FOUND") }
        if let wanted, request.header("Authorization") != Self.basic(wanted) { return Self.answer(401, code: "UNAUTHORIZED") }
        var granted: Set<String> = []
        for scope in request.query("scope") {
            for item in scope.split(separator: " ") {
                guard let colon = item.lastIndex(of: ":") else { continue }
                for action in item[item.index(after: colon)...].split(separator: ",") { granted.insert("\(item[..<colon]):\(action)") }
            }
        }
        let token = state.withLock { state -> String in
            let token = "tok-\(state.tokens.count + 1)"
            state.tokens[token] = granted
            return token
        }
        return TransportResponse(status: 200, headers: ["Content-Type": "application/json"], body: ByteStream(bytes: Array(#"{"token":"\#(token)"}"#.utf8)))
    }

    public static func basic(_ credentials: RegistryCredentials) -> String {
        "Basic " + Data("\(credentials.user):\(credentials.password)".utf8).base64EncodedString()
    }

    private static func answer(_ status: Int, code: String) -> TransportResponse {
        TransportResponse(status: status, headers: ["Content-Type": "application/json"], body: ByteStream(bytes: errors(code, code.lowercased())))
    }

    private static func errors(_ code: String, _ message: String) -> [UInt8] {
        Array(#"{"errors":[{"code":"\#(code)","message":"\#(message)"}]}"#.utf8)
    }
}
