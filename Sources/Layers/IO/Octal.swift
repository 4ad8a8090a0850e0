/// File modes as people read them.
public enum Octal {
    /// At least four octal digits (`0644`, `4755`, `0022` for a umask). Bits above the
    /// permission bits are the caller's to mask.
    public static func mode(_ mode: UInt32) -> String {
        let digits = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
