import Glibc
import OCI

/// The files a copy step reads, as one canonical text whose sha256 enters the cache key:
/// a line per entry, in layer order, with what the layer will hold (the mode bake writes,
/// the content digest, the link target), never mtimes or owners.
///
///     bake-inputs 1
///     d 0755 assets
///     f 0644 <sha256 hex> <size> assets/site.css
///     l ../site.css link
///     h assets/site.css hard
///
/// Paths are percent-encoded below 0x21, at '%' and at 0x7f, so a line never breaks, and
/// above 0x7f in names that are not UTF-8, so two names never give one line.
public struct InputListing: Sendable, Hashable {
    /// One line of the listing, with the path it is about.
    public struct Entry: Sendable, Hashable {
        public var path: String
        public var line: String
    }

    /// The listing's bytes.
    public let text: [UInt8]
    public let digest: Digest

    static let header = "bake-inputs 1"

    init(text: [UInt8]) {
        self.text = text
        self.digest = Digest.sha256(text)
    }

    /// Parses a stored listing (for `bake why`).
    public static func parse(_ text: String) -> InputListing? {
        guard text.hasPrefix(header + "\n") else { return nil }
        return InputListing(text: Array(text.utf8))
    }

    /// The lines after the header.
    public var entries: [Entry] {
        String(decoding: text, as: UTF8.self).split(separator: "\n").dropFirst().map { line in
            let fields = line.split(separator: " ")
            let index: Int
            switch fields.first {
            case "f"?: index = 4
            case "x"?: index = 1
            default: index = 2
            }
            return Entry(path: index < fields.count ? String(fields[index]) : String(line), line: String(line))
        }
    }

    /// Percent-encodes path bytes that would break a line or a field, losslessly: names
    /// are bytes, and two different names must never give the same text. A UTF-8 name
    /// keeps its characters; in a name that is not UTF-8 every byte above 0x7f is encoded
    /// too (decoding it as text would turn every invalid byte into the same U+FFFD). '%' is
    /// always encoded, so the text decodes back to exactly the bytes it came from.
    static func encode(_ bytes: [UInt8]) -> String {
        let isText = String(validating: bytes, as: UTF8.self) != nil
        func needsEncoding(_ byte: UInt8) -> Bool {
            byte < 0x21 || byte == 0x25 || byte == 0x7f || (!isText && byte >= 0x80)
        }
        guard bytes.contains(where: needsEncoding) else {
            return String(decoding: bytes, as: UTF8.self)
        }
        var out: [UInt8] = []
        for byte in bytes {
            if needsEncoding(byte) {
                out.append(0x25)
                out.append(contentsOf: Array(String(format2: byte).utf8))
            } else {
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// What changed from `old` to `self`, in order, as "SOURCE/PATH changed" (or added,
    /// removed), where `source` is the copy source as the stage file names it.
    public func changes(since old: InputListing, source: String) -> [String] {
        let oldEntries = old.entries
        let newEntries = entries
        let before = Dictionary(oldEntries.map { ($0.path, $0.line) }, uniquingKeysWith: { first, _ in first })
        let after = Dictionary(newEntries.map { ($0.path, $0.line) }, uniquingKeysWith: { first, _ in first })
        let trimmed = String(source.reversed().drop(while: { $0 == "/" }).reversed())
        func shown(_ path: String) -> String { path == "." ? source : (trimmed.isEmpty || trimmed == "." ? path : trimmed + "/" + path) }
        var result: [String] = []
        for entry in newEntries {
            if let previous = before[entry.path] {
                if previous != entry.line { result.append("\(shown(entry.path)) changed") }
            } else {
                result.append("\(shown(entry.path)) was added")
            }
        }
        for entry in oldEntries where after[entry.path] == nil {
            result.append("\(shown(entry.path)) was removed")
        }
        return result
    }
}

extension String {
    init(format2 byte: UInt8) {
        let digits = Array("0123456789ABCDEF")
        self = String([digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]])
    }
}
