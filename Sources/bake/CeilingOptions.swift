import ArgumentParser
import Provisioners

/// `--max-memory` and `--max-pids` of build and verify: the most a step's or check's
/// `limits:` may ask for. Stage files may come from a pull request; the person running bake
/// decides how much of the machine they may take.
struct CeilingOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "The most memory a step or check may ask for in limits:, like 16G (default: half of the host's RAM, also each command's default).",
        valueName: "SIZE"))
    var maxMemory: String?

    @Option(help: ArgumentHelp(
        "The most processes a step or check may ask for in limits: (default: \(ResourceLimits.defaultProcesses), also each command's default).",
        valueName: "N"))
    var maxPids: String?

    /// The ceiling; bad input (exit 2) for a value that is not a size or a count.
    func ceiling() throws -> ResourceLimits {
        ResourceLimits(
            memory: try maxMemory.map { try ResourceLimits.memory(parsing: $0, shown: "--max-memory \($0)") },
            processes: try maxPids.map { try ResourceLimits.processes(parsing: $0, shown: "--max-pids \($0)") })
    }

    /// The same options again, for a build bake starts itself (verify's).
    var arguments: [String] {
        (maxMemory.map { ["--max-memory", $0] } ?? []) + (maxPids.map { ["--max-pids", $0] } ?? [])
    }
}
