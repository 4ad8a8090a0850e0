import Glibc

/// NULL-terminated C string arrays that live for the duration of a closure.
public enum CStrings {
    public static func with<T>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) throws -> T) rethrows -> T {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        pointers.append(nil)
        defer { pointers.forEach { free($0) } }
        return try pointers.withUnsafeBufferPointer { try body($0.baseAddress!) }
    }

    /// `string` as a C string for the duration of `body`, or NULL for nil.
    static func withOptional<T>(_ string: String?, _ body: (UnsafePointer<CChar>?) throws -> T) rethrows -> T {
        guard let string else { return try body(nil) }
        return try string.withCString { try body($0) }
    }
}
