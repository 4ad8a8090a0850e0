/// The one table of volatile files: paths package tools and shells write that would make
/// the same step give different bytes twice. The normaliser applies each row's action to a
/// step's changes before they become a layer; `bake verify` names each row's cause and fix
/// next to a file that differs. Rows are checked in order, most specific first
/// (`/var/cache/man/index.db` is the man-db index before it is a cache). The README's
/// "Normalisation" table shows it.
///
/// Patterns are paths relative to the image root: `*` matches within one name, `**` any
/// number of names.
public enum VolatileFiles {
    public static let table: [VolatileFile] = [
        // Hash-based .pyc (what compileall and pip write under SOURCE_DATE_EPOCH) are the
        // same every time and stay; timestamp-based ones (written on import) go.
        VolatileFile("**/*.pyc", .timestampBytecode, .pythonBytecode),
        VolatileFile("**/__pycache__", .timestampBytecode, .pythonBytecode),
        VolatileFile("**/__pycache__/**", .drop, .pythonBytecode),
        VolatileFile("**/*.pyo", nil, .pythonBytecode),
        VolatileFile("etc/machine-id", .empty, .machineID),
        VolatileFile("var/lib/dbus/machine-id", .drop, .machineID),
        VolatileFile("etc/ld.so.cache", nil, .ldconfigCache),
        VolatileFile("var/cache/ldconfig/aux-cache", .drop, .ldconfigCache),
        VolatileFile("var/lib/apt/lists/**", .drop, .packageState),
        VolatileFile("var/lib/dpkg/*-old", .drop, .packageState),
        VolatileFile("var/cache/debconf/*-old", .drop, .packageState),
        VolatileFile("var/cache/man/index.db", .drop, .manIndex),
        VolatileFile("var/cache/man/**", .drop, .cache),
        VolatileFile("var/log/dpkg.log", .drop, .logFile),
        VolatileFile("var/log/apt/*", .drop, .logFile),
        VolatileFile("var/log/alternatives.log", .drop, .logFile),
        VolatileFile("var/log/bootstrap.log", .drop, .logFile),
        VolatileFile("var/log/lastlog", .drop, .loginRecords),
        VolatileFile("var/log/wtmp", .drop, .loginRecords),
        VolatileFile("var/log/btmp", .drop, .loginRecords),
        VolatileFile("var/log/faillog", .drop, .loginRecords),
        // nginx-common makes these two empty, owned by www-data, for the service to append to:
        // the files stay, what nginx logged while a step ran it goes.
        VolatileFile("var/log/nginx/*", .empty, .logFile),
        VolatileFile("var/log/**", nil, .logFile),
        VolatileFile("**/*.log", nil, .logFile),
        // pkgcache.bin records times.
        VolatileFile("var/cache/apt/**", .drop, .cache),
        VolatileFile("var/cache/fontconfig/**", .drop, .cache),
        VolatileFile("root/.cache/**", .drop, .cache),
        // wget's HSTS cache, with times.
        VolatileFile("root/.wget-hsts", .drop, .cache),
        VolatileFile("var/cache/**", nil, .cache),
        VolatileFile("home/*/.cache/**", nil, .cache),
        VolatileFile("var/lib/systemd/random-seed", .drop, .randomSeed),
        VolatileFile("etc/ssh/ssh_host_*", .drop, .hostKeys),
        VolatileFile("root/.bash_history", .drop, .shellHistory),
        VolatileFile("etc/passwd-", .drop, .accountBackups),
        VolatileFile("etc/group-", .drop, .accountBackups),
        VolatileFile("etc/shadow-", .drop, .accountBackups),
        VolatileFile("etc/gshadow-", .drop, .accountBackups),
        VolatileFile("etc/subuid-", .drop, .accountBackups),
        VolatileFile("etc/subgid-", .drop, .accountBackups),
        VolatileFile("etc/shadow", .shadowDates, .passwordDates),
        VolatileFile("var/tmp/**", .drop, .temporaryFile),
        VolatileFile("tmp/**", nil, .temporaryFile),
    ]

    /// The first row whose pattern matches `path` (relative, no leading `/`).
    public static func row(for path: String) -> VolatileFile? {
        table.first { Glob.matches($0.pattern, path) }
    }
}
