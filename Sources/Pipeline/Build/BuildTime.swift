/// The time written into images (config `created`, history, file mtimes).
///
/// `SOURCE_DATE_EPOCH` when set (https://reproducible-builds.org/specs/source-date-epoch/);
/// otherwise a time derived from the inputs, never the wall clock: an image built on
/// `scratch` gets 0 (1970-01-01), an image built on another gets its parent's time, and a
/// base with a pinned upstream (a Debian release) gets the upstream's date. An unrelated
/// commit or a rebuild tomorrow therefore changes no digest.
public enum BuildTime {
    /// Latest time accepted: 9999-12-31T23:59:59Z.
    static let maximum: Int64 = 253_402_300_799

    /// Parses `SOURCE_DATE_EPOCH` from an environment; nil when it is not set.
    public static func sourceDateEpoch(from environment: [String: String]) throws -> Int64? {
        guard let raw = environment["SOURCE_DATE_EPOCH"] else { return nil }
        guard !raw.isEmpty, raw.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let value = Int64(raw), value <= maximum else {
            throw PipelineError.badInput(
                "SOURCE_DATE_EPOCH='\(raw)' is not a whole number of seconds since 1970-01-01 (like 1700000000); fix or unset it")
        }
        return value
    }
}
