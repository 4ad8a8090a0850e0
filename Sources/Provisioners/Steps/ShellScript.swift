import Foundation
import Layers
import Synchronization

/// A shell script run in a machine, as run and apt steps and checks run theirs:
/// `/bin/sh -eu -c SCRIPT` as a given user, in a fixed environment, with the step's secrets.
/// Each line it prints is masked (secret values become `****`) and passed on; the last
/// lines are kept for the message of a failing command.
public struct ShellScript: Sendable {
    public var script: String
    public var account: ImageUsers.Account
    /// `NAME=value` entries (see `SandboxEnvironment`).
    public var environment: [String]
    public var workdir: String
    public var network: Bool
    public var secrets: [Secret]
    public var limits: ResourceLimits

    public init(
        script: String, account: ImageUsers.Account, environment: [String], workdir: String = "/", network: Bool = false,
        secrets: [Secret] = [], limits: ResourceLimits = ResourceLimits()
    ) {
        self.script = script
        self.account = account
        self.environment = environment
        self.workdir = workdir
        self.network = network
        self.secrets = secrets
        self.limits = limits
    }

    /// How a script ended.
    public struct Result: Sendable {
        /// Its exit status (0-255, or 128 + the signal that ended it).
        public var status: Int32
        /// Its last lines of output (masked).
        public var tail: [String]
    }

    /// Fails unless the image has a /bin/sh to run scripts with.
    public static func requireShell(in tree: ImageFilesystem) throws {
        guard let shell = tree.entry(at: try tree.resolve(try RelativePath("bin/sh"), followFinal: true)),
              shell.kind != .directory else {
            throw InputError("a command needs /bin/sh in the image, and the image below has none")
        }
    }

    /// Runs the script in `machine`; each masked output line goes to `output`.
    public func run(in machine: any Machine, output: @escaping @Sendable (String) -> Void) throws -> Result {
        let masks = Self.masks(for: secrets)
        let tail = OutputTail()
        let command = Command(arguments: ["/bin/sh", "-eu", "-c", script], environment: environment,
                              workingDirectory: workdir, user: account.identity, network: network, secrets: secrets,
                              limits: limits)
        let status = try machine.run(command, output: .lines { raw in
            // Secret values never reach a log, even when a step prints them.
            var line = raw
            for value in masks { line = line.replacingOccurrences(of: value, with: "****") }
            tail.add(line)
            output(line)
        })
        return Result(status: status, tail: tail.lines)
    }

    /// Runs the script and fails (with its last lines) unless it exits 0.
    public func runChecked(in machine: any Machine, output: @escaping @Sendable (String) -> Void) throws {
        let result = try run(in: machine, output: output)
        guard result.status == 0 else { throw ProvisionersError.commandFailed(status: result.status, output: result.tail) }
    }

    /// What to hide in output lines: each secret's value, and each line of a value that
    /// spans lines (a PEM key) or ends with a newline, longest first so a whole value is
    /// masked before its parts.
    static func masks(for secrets: [Secret]) -> [String] {
        var masks: Set<String> = []
        for secret in secrets {
            let value = String(decoding: secret.value, as: UTF8.self)
            // (isNewline, not "\n": Swift reads "\r\n" as one character.)
            let lines = value.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.isEmpty }
            if lines.count == 1 {
                masks.insert(lines[0])
            } else {
                // Shorter pieces would blank out ordinary words without hiding anything.
                for line in lines where line.count >= 4 { masks.insert(line) }
            }
        }
        return masks.sorted { ($0.count, $0) > ($1.count, $1) }
    }
}
