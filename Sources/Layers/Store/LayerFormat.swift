import CZlib
import OCI

/// The fixed parameters of the layers bake writes. Changing any of them changes layer
/// digests, so `version` is part of every cache key.
public enum LayerFormat {
    /// Bumped whenever the bytes bake writes for the same input change.
    public static let version = 1
    /// gzip level: zlib's default, a balance of size and speed; fixed for reproducibility.
    public static let gzipLevel: Int32 = 6
    /// The zlib bake compresses with: another deflate implementation may give other bytes.
    public static let zlibVersion: String = {
        guard let version = CZlib.zlibVersion() else { return "unknown" }
        var bytes: [UInt8] = []
        var pointer = version
        while pointer.pointee != 0 {
            bytes.append(UInt8(bitPattern: pointer.pointee))
            pointer += 1
        }
        return String(decoding: bytes, as: UTF8.self)
    }()
}
