import CSandbox

/// The process personality (`personality(2)`) bake runs with, and so every program it
/// starts: host tools (mmdebstrap, apt, curl) and steps. A caller's `setarch --uname-2.6`,
/// `linux32` or `setarch -R` would otherwise reach a base's maintainer scripts and every
/// step (`uname -r`, `uname -m`, address randomisation) and change what they write.
public enum HostPersonality {
    /// Sets Linux's default personality; call first thing in `main`. A kernel never
    /// refuses PER_LINUX; if one did, the inherited personality would stay, the same for
    /// the whole build.
    public static func reset() {
        _ = bake_personality_reset()
    }

    /// The current personality (0: the default).
    public static var current: Int32 { bake_personality_current() }
}
