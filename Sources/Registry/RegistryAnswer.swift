import Foundation
import NIOHTTP1

/// A registry's response to an operation, its body not yet read.
struct RegistryAnswer: Sendable {
    var status: Int
    var headers: HTTPHeaders
    var body: ByteStream
    /// The URL the request went to, which a relative Location is resolved against.
    var url: String

    init(_ response: TransportResponse, url: String) {
        status = response.status
        headers = response.headers
        body = response.body
        self.url = url
    }

    func header(_ name: String) -> String? { headers.first(name: name) }

    /// The same answer with a body already read.
    func with(body bytes: [UInt8]) -> RegistryAnswer {
        var copy = self
        copy.body = ByteStream(bytes: bytes)
        return copy
    }

    /// The Location header as an absolute URL.
    var location: String? {
        header("Location").map { RegistryClient.resolve($0, against: url) }
    }

    /// The body as bytes, up to `limit`.
    func bytes(limit: Int = 1 << 20) async throws -> [UInt8] {
        try await body.collect(upTo: limit)
    }

    /// Reads and drops a body the caller does not need, so the connection can be reused.
    func drain() async {
        _ = try? await bytes(limit: 64 << 10)
    }

    /// The registry's error text (`errors[].code: message`) or the start of the body.
    func errorDetail() async -> (code: String?, text: String) {
        guard let bytes = try? await self.bytes(limit: 64 << 10) else { return (nil, "") }
        struct Errors: Decodable {
            struct Item: Decodable { var code: String?; var message: String? }
            var errors: [Item]?
        }
        if let decoded = try? JSONDecoder().decode(Errors.self, from: Data(bytes)), let items = decoded.errors, let first = items.first {
            let text = items.map { [$0.code, $0.message].compactMap { $0 }.joined(separator: ": ") }.joined(separator: "; ")
            return (first.code, text)
        }
        let text = String(decoding: bytes.prefix(200), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return (nil, text)
    }
}
