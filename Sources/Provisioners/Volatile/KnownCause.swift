/// A known cause of irreproducibility: what makes a file come out different from one build
/// to the next, and how to stop it. `bake verify` prints it next to the differing file.
///
/// Causes of volatile files are rows of `VolatileFiles.table`, which the normaliser shares;
/// the causes bake recognises from content (gzip headers, zip times, timestamps in text,
/// random names) are judged in Pipeline's verify.
public struct KnownCause: Sendable, Hashable, Codable {
    /// What happens, in a few words ("Python bytecode").
    public var name: String
    /// What to change in the stage file so the file comes out the same every time.
    public var fix: String

    /// A cause; see the catalogue below for the ones bake recognises.
    public init(name: String, fix: String) {
        self.name = name
        self.fix = fix
    }
}

// MARK: - The catalogue

extension KnownCause {
    /// `*.pyc`, `*.pyo` and anything in `__pycache__/`.
    public static let pythonBytecode = KnownCause(
        name: "Python bytecode (timestamp-based .pyc record the source's mtime; bake removes those and keeps hash-based ones)",
        fix: "compile in the step with python3 -m compileall (pip does it too: under SOURCE_DATE_EPOCH, which bake sets, both write hash-based .pyc), or --invalidation-mode checked-hash"
    )
    /// `/etc/machine-id`, `/var/lib/dbus/machine-id`.
    public static let machineID = KnownCause(
        name: "a machine ID generated at build time",
        fix: "empty /etc/machine-id (: > /etc/machine-id) and remove /var/lib/dbus/machine-id in the step that creates them; the system makes a new one at boot"
    )
    /// `/etc/ld.so.cache`, `/var/cache/ldconfig/aux-cache`.
    public static let ldconfigCache = KnownCause(
        name: "the ldconfig cache (it records file times and inode numbers)",
        fix: "remove /var/cache/ldconfig/aux-cache and run ldconfig once more at the end of the step that installs libraries"
    )
    /// `/var/lib/apt/lists/...`, `/var/lib/dpkg/*-old`, `/var/cache/debconf/*-old`.
    public static let packageState = KnownCause(
        name: "apt/dpkg state and backup files",
        fix: "remove /var/lib/apt/lists/*, /var/lib/dpkg/*-old and /var/cache/debconf/*-old at the end of the step (an apt: step does this)"
    )
    /// man-db's `index.db`.
    public static let manIndex = KnownCause(
        name: "the man-db index (a database written in hash order with build times)",
        fix: "remove /var/cache/man in the same step, or stop man-db from building it: echo 'man-db man-db/auto-update boolean false' | debconf-set-selections"
    )
    /// `/var/log/...`, `*.log`.
    public static let logFile = KnownCause(
        name: "a log written at build time",
        fix: "delete or truncate the log in the same step that writes it"
    )
    /// `/var/cache/...`, `/root/.cache/...`, `/home/*/.cache/...`.
    public static let cache = KnownCause(
        name: "a cache left in the image",
        fix: "delete the cache in the same step that fills it, or turn it off (apt-get clean, pip --no-cache-dir, npm cache clean --force)"
    )
    /// `/tmp/...`, `/var/tmp/...`.
    public static let temporaryFile = KnownCause(
        name: "temporary files left behind",
        fix: "delete them in the same step that creates them"
    )
    /// An added and a removed path in one folder whose names differ only in random-looking parts.
    public static let randomName = KnownCause(
        name: "a random file name (mktemp or a PID)",
        fix: "give the file a fixed name, or delete it in the same step that creates it"
    )
    /// A `*.gz` file whose content differs.
    public static let gzipHeader = KnownCause(
        name: "gzip embeds a timestamp and name",
        fix: "use gzip -n (or gzip --no-name), which leaves both out of the header"
    )
    /// A zip, jar or wheel whose content differs.
    public static let zipTimestamps = KnownCause(
        name: "zip/jar archives record each entry's timestamp",
        fix: "run strip-nondeterminism on the archive in the same step, or build it with fixed timestamps (SOURCE_DATE_EPOCH)"
    )
    /// A text file whose only differing lines hold a time.
    public static let buildTimestamp = KnownCause(
        name: "a timestamp written at build time",
        fix: "use $SOURCE_DATE_EPOCH (set in every step) instead of the clock, e.g. date -d @$SOURCE_DATE_EPOCH"
    )

    /// A text file whose only differing lines are `ls -l` lines (a mode, then a date).
    public static let listingTimes = KnownCause(
        name: "a file listing with modification times (ls -l)",
        fix: "list without times (ls -1, or stat -c '%A %s %n'), or give the files a fixed time first (touch -d @$SOURCE_DATE_EPOCH)"
    )
    /// A tar archive (`*.tar`, `*.tar.gz`...) whose content differs.
    public static let tarMemberTimes = KnownCause(
        name: "tar records each member's mtime, owner names and order",
        fix: "tar --sort=name --mtime=@$SOURCE_DATE_EPOCH --clamp-mtime --owner=0 --group=0 --numeric-owner --pax-option=delete=atime,delete=ctime (and gzip -n for .tar.gz)"
    )

    /// `/var/log/lastlog`, `wtmp`, `btmp`, `faillog`.
    public static let loginRecords = KnownCause(
        name: "login records (with times)",
        fix: "delete /var/log/lastlog, wtmp, btmp and faillog in the step that writes them"
    )
    /// `/var/lib/systemd/random-seed`.
    public static let randomSeed = KnownCause(
        name: "a random seed saved at build time",
        fix: "remove /var/lib/systemd/random-seed in the step that creates it; the system saves a new one at boot"
    )
    /// `/etc/ssh/ssh_host_*`.
    public static let hostKeys = KnownCause(
        name: "SSH host keys generated at build time (each server must make its own)",
        fix: "remove /etc/ssh/ssh_host_* in the step that installs openssh-server; run ssh-keygen -A at first boot"
    )
    /// `/root/.bash_history`.
    public static let shellHistory = KnownCause(
        name: "a shell history",
        fix: "delete the history file in the step that writes it (or unset HISTFILE)"
    )
    /// `/etc/passwd-` and the other backups `useradd` leaves.
    public static let accountBackups = KnownCause(
        name: "the backups of the account files useradd leaves",
        fix: "delete /etc/passwd-, /etc/group-, /etc/shadow-, /etc/gshadow-, /etc/subuid- and /etc/subgid- in the step that adds users"
    )
    /// `/etc/shadow`'s "last changed" days.
    public static let passwordDates = KnownCause(
        name: "the day a password last changed (useradd writes today's date)",
        fix: "bake clamps it to the build day; a date set on purpose (chage -d) must not be later than SOURCE_DATE_EPOCH"
    )
}
