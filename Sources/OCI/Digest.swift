// Digests: https://github.com/opencontainers/image-spec/blob/v1.1.0/descriptor.md#digests

/// A content identifier of the form `algorithm:encoded`, validated on construction.
///
/// bake passes `Digest` values around, never bare strings, so a malformed digest is
/// rejected where it enters (a file, a registry answer, a command-line argument).
public struct Digest: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// The hash algorithms the OCI image spec registers.
    public enum Algorithm: String, Sendable, Hashable, CaseIterable {
        case sha256
        case sha512

        /// Number of lowercase hex characters in an encoded digest of this algorithm.
        public var hexLength: Int {
            switch self {
            case .sha256: return 64
            case .sha512: return 128
            }
        }
    }

    /// The algorithm that produced the digest.
    public let algorithm: Algorithm
    /// The lowercase hex encoding of the hash.
    public let encoded: String

    /// Creates a digest from an algorithm and its lowercase hex encoding.
    public init(algorithm: Algorithm, encoded: String) throws {
        guard encoded.utf8.count == algorithm.hexLength,
              encoded.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) })
        else {
            throw OCIError.invalidDigest("\(algorithm.rawValue):\(encoded)")
        }
        self.algorithm = algorithm
        self.encoded = encoded
    }

    /// Parses `algorithm:hex`, e.g. `sha256:e3b0c442...`.
    public init(parsing string: String) throws {
        guard let colon = string.firstIndex(of: ":"),
              let algorithm = Algorithm(rawValue: String(string[..<colon]))
        else {
            throw OCIError.invalidDigest(string)
        }
        try self.init(algorithm: algorithm, encoded: String(string[string.index(after: colon)...]))
    }

    /// Creates a sha256 digest from the 32 bytes a SHA-256 hash function returned.
    /// Passing anything else is a programming error, not an input error.
    public init(sha256 bytes: some Sequence<UInt8>) {
        let hex = Self.hex(bytes)
        precondition(hex.utf8.count == 64, "a SHA-256 hash has 32 bytes")
        self.algorithm = .sha256
        self.encoded = hex
    }

    /// `algorithm:encoded`.
    public var description: String { "\(algorithm.rawValue):\(encoded)" }

    /// The first 12 hex characters, for display only.
    public var short: String { String(encoded.prefix(12)) }

    public static func < (lhs: Digest, rhs: Digest) -> Bool {
        lhs.description < rhs.description
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        try self.init(parsing: container.decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    /// Lowercase hex of bytes.
    public static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
