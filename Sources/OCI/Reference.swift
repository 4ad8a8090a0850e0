// References: https://github.com/distribution/reference/blob/main/reference.go (the grammar
// registries and tools share) and https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md#pulling-manifests

/// A reference to an image or repository in a registry: `host[:port]/path[:tag][@digest]`.
///
/// bake always names the registry host: there is no implicit default registry, so a
/// reference means the same thing on every machine.
public struct Reference: Sendable, Hashable, CustomStringConvertible {
    /// The registry host, with its port if one was given (`registry.example.com`, `127.0.0.1:5000`).
    public var host: String
    /// The repository path inside the registry (`team/app`).
    public var repository: String
    /// The tag, if one was given.
    public var tag: String?
    /// The digest, if one was given.
    public var digest: Digest?

    /// Creates a reference from its parts, each already valid.
    public init(host: String, repository: String, tag: String? = nil, digest: Digest? = nil) {
        self.host = host
        self.repository = repository
        self.tag = tag
        self.digest = digest
    }

    /// Parses and validates `host[:port]/path[:tag][@sha256:...]`.
    public init(parsing text: String) throws {
        func fail(_ why: String) -> OCIError { .invalidReference(text, why) }
        guard !text.isEmpty else { throw fail("it is empty") }
        guard text.utf8.count <= 255 + 128 + 72 else { throw fail("it is too long") }
        var rest = Substring(text)
        var digest: Digest?
        if let at = rest.firstIndex(of: "@") {
            do {
                digest = try Digest(parsing: String(rest[rest.index(after: at)...]))
            } catch {
                throw fail("'\(rest[rest.index(after: at)...])' is not a digest like sha256:<64 hex digits>")
            }
            rest = rest[..<at]
        }
        guard let slash = rest.firstIndex(of: "/") else {
            throw fail("it names no registry host; write HOST[:PORT]/PATH, e.g. registry.example.com/team/\(rest)")
        }
        let host = String(rest[..<slash])
        guard Self.isValidHost(host) else {
            throw fail("'\(host)' is not a registry host; write HOST[:PORT]/PATH, e.g. registry.example.com/team/app")
        }
        var path = rest[rest.index(after: slash)...]
        var tag: String?
        if let colon = path.lastIndex(of: ":") {
            tag = String(path[path.index(after: colon)...])
            path = path[..<colon]
            guard Self.isValidTag(tag!) else {
                throw fail("'\(tag!)' is not a valid tag (letters, digits, '_', '.', '-', at most 128, not starting with '.' or '-')")
            }
        }
        let repository = String(path)
        guard Self.isValidRepository(repository) else {
            throw fail("'\(repository)' is not a valid repository path (lowercase letters and digits, separated by '/', '.', '_', '__' or '-')")
        }
        self.init(host: host, repository: repository, tag: tag, digest: digest)
    }

    /// The reference without tag or digest: `host/path`.
    public var repositoryName: String { "\(host)/\(repository)" }

    /// What to ask the registry for: the digest if there is one, else the tag, else `latest`.
    public var manifestReference: String { digest?.description ?? tag ?? "latest" }

    /// The same repository with another tag and no digest.
    public func with(tag: String) -> Reference { Reference(host: host, repository: repository, tag: tag) }

    /// The same repository at a digest, without a tag.
    public func with(digest: Digest) -> Reference { Reference(host: host, repository: repository, digest: digest) }

    public var description: String {
        repositoryName + (tag.map { ":" + $0 } ?? "") + (digest.map { "@" + $0.description } ?? "")
    }

    /// A tag as the distribution spec allows: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
    public static func isValidTag(_ tag: String) -> Bool {
        let bytes = Array(tag.utf8)
        guard (1...128).contains(bytes.count) else { return false }
        func word(_ byte: UInt8) -> Bool {
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) || byte == 0x5f
        }
        return word(bytes[0]) && bytes.dropFirst().allSatisfy { word($0) || $0 == 0x2e || $0 == 0x2d }
    }

    /// Path components of `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` joined by `/`.
    public static func isValidRepository(_ path: String) -> Bool {
        guard !path.isEmpty, path.utf8.count <= 255 else { return false }
        return path.split(separator: "/", omittingEmptySubsequences: false).allSatisfy { component in
            let bytes = Array(component.utf8)
            func alnum(_ byte: UInt8) -> Bool { (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x7a) }
            guard let first = bytes.first, let last = bytes.last, alnum(first), alnum(last) else { return false }
            var index = 0
            while index < bytes.count {
                if alnum(bytes[index]) { index += 1; continue }
                // A separator: '.', '_', '__' or a run of '-', always between alphanumerics.
                var end = index
                if bytes[index] == 0x2d {
                    while end < bytes.count && bytes[end] == 0x2d { end += 1 }
                } else if bytes[index] == 0x2e {
                    end += 1
                } else if bytes[index] == 0x5f {
                    end += 1
                    if end < bytes.count && bytes[end] == 0x5f { end += 1 }
                } else {
                    return false
                }
                guard end < bytes.count, alnum(bytes[end]) else { return false }
                index = end
            }
            return true
        }
    }

    /// A DNS name or IPv4 address (labels of letters, digits and '-'), or `[IPv6]`, with an
    /// optional port; or `localhost`. A first path component without '.' or ':' is not a host.
    public static func isValidHost(_ host: String) -> Bool {
        var name = Substring(host)
        if name.hasPrefix("[") {
            guard let close = name.firstIndex(of: "]") else { return false }
            let inside = name[name.index(after: name.startIndex)..<close]
            guard !inside.isEmpty, inside.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return false }
            name = name[name.index(after: close)...]
            if name.isEmpty { return true }
            guard name.hasPrefix(":") else { return false }
            return isValidPort(name.dropFirst())
        }
        var hasPort = false
        if let colon = name.lastIndex(of: ":") {
            guard isValidPort(name[name.index(after: colon)...]) else { return false }
            name = name[..<colon]
            hasPort = true
        }
        guard name == "localhost" || name.contains(".") || hasPort else { return false }
        return name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            guard let first = label.first, let last = label.last, first != "-", last != "-" else { return false }
            return label.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "-" }
        }
    }

    private static func isValidPort(_ text: Substring) -> Bool {
        guard let port = Int(text), (1...65_535).contains(port), text.allSatisfy(\.isNumber) else { return false }
        return true
    }
}
