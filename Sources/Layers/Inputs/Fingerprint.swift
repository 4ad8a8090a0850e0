import OCI

/// `STORE/cache/stat/<source>.fingerprint`: the fingerprint of a source's last settled
/// scan and the digest of the listing it gave.
struct Fingerprint {
    var fingerprint: Digest
    var listing: Digest

    var bytes: [UInt8] { Array("\(fingerprint.encoded) \(listing.encoded)\n".utf8) }

    static func load(_ cachePath: String) -> Fingerprint? {
        guard let bytes = try? FileSystem.readFile(cachePath + ".fingerprint", limit: 4096) else { return nil }
        let fields = String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard fields.count == 2,
              let fingerprint = try? Digest(algorithm: .sha256, encoded: String(fields[0])),
              let listing = try? Digest(algorithm: .sha256, encoded: String(fields[1])) else { return nil }
        return Fingerprint(fingerprint: fingerprint, listing: listing)
    }
}
