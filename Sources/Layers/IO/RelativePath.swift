/// A normalised path relative to a root (an image's `/`), kept as raw bytes because Linux
/// file names are bytes, not necessarily UTF-8.
///
/// Never absolute, never `.` or `..` components, no empty components; the root is the
/// empty path. Ordering is component by component, so a parent sorts before its children
/// and siblings sort by their name bytes: the order of entries in every layer bake writes.
public struct RelativePath: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The path's bytes, components joined by `/`.
    public let bytes: [UInt8]

    /// The root (`/` of the image).
    public static let root = RelativePath(trusted: [])

    init(trusted bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Parses a path as it appears in an archive or a stage file: leading `./` and `/`
    /// are allowed only when `allowAbsolute` is set, `.` components and repeated or trailing
    /// slashes are dropped, and `..` is refused.
    public init(normalizing raw: [UInt8], allowAbsolute: Bool = false) throws {
        if raw.first == 0x2f && !allowAbsolute {
            throw LayersError.unsafeEntry(path: String(decoding: raw, as: UTF8.self), reason: "it is an absolute path")
        }
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        for component in raw.split(separator: 0x2f, omittingEmptySubsequences: true) {
            if component.elementsEqual([0x2e]) { continue }
            if component.elementsEqual([0x2e, 0x2e]) {
                throw LayersError.unsafeEntry(path: String(decoding: raw, as: UTF8.self), reason: "it contains '..'")
            }
            if component.contains(0) {
                throw LayersError.unsafeEntry(path: String(decoding: raw, as: UTF8.self), reason: "it contains a NUL byte")
            }
            if !out.isEmpty { out.append(0x2f) }
            out.append(contentsOf: component)
        }
        self.bytes = out
    }

    /// Parses a string path (see `init(normalizing:allowAbsolute:)`).
    public init(_ string: String, allowAbsolute: Bool = false) throws {
        try self.init(normalizing: Array(string.utf8), allowAbsolute: allowAbsolute)
    }

    /// True for the root.
    public var isRoot: Bool { bytes.isEmpty }

    /// The components, first to last.
    public var components: [[UInt8]] {
        bytes.split(separator: 0x2f).map(Array.init)
    }

    /// The last component (empty for the root).
    public var lastComponent: [UInt8] {
        guard let slash = bytes.lastIndex(of: 0x2f) else { return bytes }
        return Array(bytes[(slash + 1)...])
    }

    /// The parent path; nil for the root.
    public var parent: RelativePath? {
        if bytes.isEmpty { return nil }
        guard let slash = bytes.lastIndex(of: 0x2f) else { return .root }
        return RelativePath(trusted: Array(bytes[..<slash]))
    }

    /// Every ancestor from the first component down to the parent, excluding the root.
    public var ancestors: [RelativePath] {
        var result: [RelativePath] = []
        for (index, byte) in bytes.enumerated() where byte == 0x2f {
            result.append(RelativePath(trusted: Array(bytes[..<index])))
        }
        return result
    }

    /// This path with one more component. Callers pass names that come from a directory
    /// listing or from an already validated path, never `.`, `..`, or anything with `/`.
    public func appending(_ component: [UInt8]) -> RelativePath {
        precondition(Self.isValidComponent(component), "a path component cannot be empty, '.', '..' or hold '/'")
        if bytes.isEmpty { return RelativePath(trusted: component) }
        return RelativePath(trusted: bytes + [0x2f] + component)
    }

    /// True for a name that can be one component of a path: not empty, `.` or `..`, and
    /// without `/` or NUL.
    public static func isValidComponent(_ name: [UInt8]) -> Bool {
        !name.isEmpty && name != [0x2e] && name != [0x2e, 0x2e] && !name.contains(0x2f) && !name.contains(0)
    }

    /// This path followed by another relative path.
    public func appending(_ other: RelativePath) -> RelativePath {
        if other.isRoot { return self }
        if isRoot { return other }
        return RelativePath(trusted: bytes + [0x2f] + other.bytes)
    }

    /// True when `self` is a strict ancestor of `other`.
    public func isAncestor(of other: RelativePath) -> Bool {
        if isRoot { return !other.isRoot }
        return other.bytes.count > bytes.count
            && other.bytes[bytes.count] == 0x2f
            && other.bytes.starts(with: bytes)
    }

    /// `other` relative to `self`, when `self` is `other` or one of its ancestors.
    public func relative(_ other: RelativePath) -> RelativePath? {
        if self == other { return .root }
        guard isAncestor(of: other) else { return nil }
        if isRoot { return other }
        return RelativePath(trusted: Array(other.bytes[(bytes.count + 1)...]))
    }

    /// The path as text (invalid UTF-8 replaced), for messages.
    public var description: String { String(decoding: bytes, as: UTF8.self) }

    /// The path as text that tells every path apart, for output people and tools compare
    /// (verify's differences): a UTF-8 path as it is; in one that is not, each byte that is
    /// not part of a UTF-8 character as `\xHH` and a backslash as `\\`.
    public var escapedDescription: String { Self.escaped(bytes) }

    /// Bytes as text, as `escapedDescription` shows them.
    public static func escaped(_ bytes: [UInt8]) -> String {
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        var out = ""
        var index = 0
        while index < bytes.count {
            // The UTF-8 character starting here, if one does (UTF-8 is prefix-free).
            var length = 0
            for candidate in 1...4 where index + candidate <= bytes.count {
                if String(validating: bytes[index..<(index + candidate)], as: UTF8.self) != nil { length = candidate; break }
            }
            if length == 0 {
                out += "\\x" + String(bytes[index], radix: 16).leftPadded(to: 2)
                index += 1
            } else {
                let text = String(decoding: bytes[index..<(index + length)], as: UTF8.self)
                out += text == "\\" ? "\\\\" : text
                index += length
            }
        }
        return out
    }

    /// Path bytes as text for a message, a very long one cut to its first 64 bytes and
    /// its length (a 6 KB path would drown the sentence it is in).
    public static func abbreviated(_ bytes: [UInt8]) -> String {
        guard bytes.count > 100 else { return String(decoding: bytes, as: UTF8.self) }
        return String(decoding: bytes.prefix(64), as: UTF8.self) + "... (\(bytes.count) bytes)"
    }

    /// `/` followed by the path, for messages about image paths.
    public var absoluteDescription: String { "/" + description }

    /// Component-wise byte order: `/` sorts before every other byte.
    public static func < (lhs: RelativePath, rhs: RelativePath) -> Bool {
        compare(lhs.bytes, rhs.bytes) < 0
    }

    static func compare(_ lhs: [UInt8], _ rhs: [UInt8]) -> Int {
        let count = min(lhs.count, rhs.count)
        var index = 0
        while index < count {
            let left = lhs[index], right = rhs[index]
            if left != right {
                if left == 0x2f { return -1 }
                if right == 0x2f { return 1 }
                return left < right ? -1 : 1
            }
            index += 1
        }
        return lhs.count == rhs.count ? 0 : (lhs.count < rhs.count ? -1 : 1)
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}

extension Array where Element == UInt8 {
    /// Byte order, as used for sorting names.
    static func bytesPrecede(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        lhs.lexicographicallyPrecedes(rhs)
    }
}
