import Glibc

/// The memory and processes a command may use (`limits:` of run steps and checks, `bake run
/// --memory/--pids`), enforced by a cgroup of its own (`CommandCgroup`). Not in any cache key:
/// a limit decides whether a step succeeds, never what a successful step makes.
public struct ResourceLimits: Sendable, Hashable {
    /// Bytes of memory (page cache and /tmp included), nil for the default.
    public var memory: UInt64?
    /// Processes and threads at once, the sandbox's init included; nil for the default.
    public var processes: Int?

    public init(memory: UInt64? = nil, processes: Int? = nil) {
        self.memory = memory
        self.processes = processes
    }

    /// Processes when none is given: enough for any build (`make -j` on many cores), far
    /// below the host's pid_max (32768 by default), so a fork bomb stops long before it.
    public static let defaultProcesses = 4096
    /// Memory when none is given: half of the host's RAM, so a runaway step leaves the
    /// machine (and bake) the other half.
    public static var defaultMemory: UInt64 {
        let pages = UInt64(max(sysconf(Int32(_SC_PHYS_PAGES)), 0))
        let size = UInt64(max(sysconf(Int32(_SC_PAGESIZE)), 4096))
        return pages / 2 * size
    }
    /// Below this, not even a shell starts.
    public static let smallestMemory: UInt64 = 4 << 20
    /// The init, a shell and a command at least; at most Linux's largest pid_max.
    public static let processRange = 8...4_194_304

    /// The memory limit in force.
    public var effectiveMemory: UInt64 { memory ?? Self.defaultMemory }
    /// The process limit in force.
    public var effectiveProcesses: Int { processes ?? Self.defaultProcesses }

    /// These limits under `ceiling`, the most the person running bake allows (`bake build
    /// --max-memory/--max-pids`; unset: the defaults, so a stage file from a pull request
    /// cannot take the machine): a limit not given is the default or the ceiling, whichever
    /// is lower; a limit above the ceiling is bad input.
    public func bounded(by ceiling: ResourceLimits) throws -> ResourceLimits {
        let most = (memory: ceiling.effectiveMemory, processes: ceiling.effectiveProcesses)
        if let memory, memory > most.memory {
            throw InputError("its memory limit of \(Self.describe(bytes: memory)) is above the most this build allows, \(Self.describe(bytes: most.memory)) (\(ceiling.memory == nil ? "the default; " : "")the person running bake raises it with --max-memory)")
        }
        if let processes, processes > most.processes {
            throw InputError("its limit of \(processes) processes is above the most this build allows, \(most.processes) (\(ceiling.processes == nil ? "the default; " : "")the person running bake raises it with --max-pids)")
        }
        return ResourceLimits(memory: min(memory ?? Self.defaultMemory, most.memory),
                              processes: min(processes ?? Self.defaultProcesses, most.processes))
    }

    /// A size as users write it: bytes, or a number (a fraction allowed) with K, M, G or T
    /// (powers of 1024; `Ki`, `KiB`, `KB` mean the same, any case), e.g. 512M, 2G, 1.5G.
    /// `shown` is how the value is named in a message (default: the text itself).
    public static func memory(parsing text: String, shown: String? = nil) throws -> UInt64 {
        let shown = shown ?? text
        let invalid = InputError("'\(shown)' is not a size like 512M or 2G (bytes, or a number with K, M, G or T)")
        var rest = Substring(text.lowercased())
        for suffix in ["ib", "b", "i"] where rest.hasSuffix(suffix) && rest.count > suffix.count {
            rest = rest.dropLast(suffix.count)
            break
        }
        var unit: UInt64 = 1
        if let last = rest.last, let power = ["k": 1, "m": 2, "g": 3, "t": 4][String(last)] {
            unit = 1 << (10 * UInt64(power))
            rest = rest.dropLast()
        }
        let parts = rest.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), !parts[0].isEmpty, parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              parts.count == 1 || (!parts[1].isEmpty && parts[1].count <= 6 && unit > 1),
              let whole = UInt64(parts[0])
        else { throw invalid }
        var (bytes, overflow) = whole.multipliedReportingOverflow(by: unit)
        if parts.count == 2, !overflow, let fraction = UInt64(parts[1]) {
            var scale: UInt64 = 1
            for _ in parts[1] { scale *= 10 }
            let extra = fraction * unit / scale
            (bytes, overflow) = bytes.addingReportingOverflow(extra)
        }
        guard !overflow else { throw invalid }
        guard bytes >= smallestMemory else {
            throw InputError("'\(shown)' is below the smallest memory limit, \(describe(bytes: smallestMemory))")
        }
        return bytes
    }

    /// A number of processes (`processRange`).
    public static func processes(parsing text: String, shown: String? = nil) throws -> Int {
        guard let count = Int(text), processRange.contains(count) else {
            throw InputError("'\(shown ?? text)' is not a number of processes from \(processRange.lowerBound) to \(processRange.upperBound)")
        }
        return count
    }

    /// `2 GiB`, `64 MiB`, `1.5 GiB`, `5000 bytes`: how a limit is shown, in the largest
    /// binary unit it reaches (to a tenth for MiB and up).
    public static func describe(bytes: UInt64) -> String {
        let units: [(UInt64, String)] = [(1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")]
        guard let (size, name) = units.first(where: { bytes >= $0.0 }) else { return "\(bytes) bytes" }
        if bytes % size == 0 { return "\(bytes / size) \(name)" }
        guard size >= 1 << 20 else { return "\(bytes) bytes" }
        let tenths = (bytes / (size / 1024) * 10 + 512) / 1024
        return "\(tenths / 10).\(tenths % 10) \(name)"
    }
}
