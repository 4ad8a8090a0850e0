import Synchronization

/// `apt: [PACKAGE[=VERSION]...]`: Debian packages installed with apt-get (network on,
/// recommends off), the package lists and caches removed after, the installed versions
/// recorded.
public struct AptStep: Provisioner, Hashable {
    public static let kind = "apt"

    public var packages: [String]

    public init(packages: [String]) {
        self.packages = packages
    }

    public var network: Bool { true }

    public var summary: String { "apt " + packages.joined(separator: " ") }

    public var spec: StepSpec { StepSpec(kind: Self.kind, arguments: ["packages": packages.joined(separator: "\n")]) }

    /// The line after which the script prints what it installed.
    static let marker = "@@bake-installed-packages@@"

    public func apply(_ context: StepContext) throws -> StepOutcome {
        let versions = MarkedLines(after: Self.marker)
        let script = ShellScript(
            script: Self.script(packages), account: ImageUsers.Account(identity: .root, home: "/root"),
            environment: SandboxEnvironment.make(
                image: context.below.config?.env ?? [], home: "/root", epoch: context.epoch, extra: ["DEBIAN_FRONTEND=noninteractive"]),
            network: true)
        var observed = context
        let output = context.output
        observed.output = { line in
            versions.add(line)
            output(line)
        }
        let entries = try ScriptLayer.run(script, observed)
        return StepOutcome(entries: entries, history: summary, packages: versions.lines)
    }

    /// Install with --no-install-recommends, report what was installed, clean up.
    static func script(_ packages: [String]) -> String {
        let names = packages.map { $0.split(separator: "=").first.map(String.init) ?? $0 }
        return """
            apt-get update -q
            apt-get install -y -q --no-install-recommends -o Dpkg::Use-Pty=0 \(packages.joined(separator: " "))
            echo \(marker)
            dpkg-query -W -f '${Package}=${Version}\\n' \(names.joined(separator: " "))
            apt-get clean
            rm -rf /var/lib/apt/lists/*
            """
    }
}
