import Foundation
import Testing
import TestSupport

/// Exit codes, messages and help of the command line.
@Suite struct CommandLineTests {
    @Test(arguments: [
        [], ["build"], ["plan"], ["why"], ["verify"], ["inspect"], ["history"], ["graph"], ["export"], ["run"], ["push"], ["retag"],
        ["update"], ["outdated"], ["fsck"], ["gc"],
    ])
    func everyCommandExplainsItselfWithAnExample(_ command: [String]) throws {
        let dir = TemporaryDirectory()
        let result = try BakeCLI.run(command + ["--help"], in: dir.path)
        #expect(result.status == 0)
        #expect(result.stdout.contains("EXAMPLES:"), "\(result.stdout)")
        #expect(result.stdout.contains("-C <DIR>"))
        #expect(result.stdout.contains("--store <DIR>"))
        // A line continuation written as a literal backslash shows up in the help.
        #expect(!result.stdout.split(separator: "\n").contains { $0.hasSuffix("\\") }, "\(result.stdout)")
    }

    @Test(arguments: [
        ["build", "--no-such-flag"],
        ["inspect"],
        ["export", "app", "--format", "zip", "--output", "x"],
        ["graph", "--format", "svg"],
        ["frobnicate"],
    ])
    func usageErrorsExitWith2(_ arguments: [String]) throws {
        let dir = TemporaryDirectory()
        try BakeCLI.toyProject(at: dir.at("p"))
        let result = try BakeCLI.run(arguments, in: dir.at("p"))
        #expect(result.status == 2, "\(result.stderr)")
        #expect(!result.stderr.isEmpty)
    }

    @Test func anInvalidStageFileNamesFileLineAndColumnAndLeavesNoStore() throws {
        let dir = TemporaryDirectory()
        try BakeCLI.toyProject(at: dir.at("p"))
        try Fixture.write(dir.at("p/images/app/stage.yaml"), "from: app-base\nsteps:\n  - copy: site/\n    too: /srv/app/\n")
        let result = try BakeCLI.run(["build", "app"], in: dir.at("p"))
        #expect(result.status == 2)
        #expect(result.stderr.contains("bake: images/app/stage.yaml:4:5: unknown key 'too' in a copy step; did you mean 'to'?"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.at("p/.bake")))
    }

    @Test func badInputBeforeBuildingLeavesTheStoreUntouched() throws {
        let dir = TemporaryDirectory()
        try BakeCLI.toyProject(at: dir.at("p"))
        let epoch = try BakeCLI.run(["build"], in: dir.at("p"), environment: ["SOURCE_DATE_EPOCH": "yesterday"])
        #expect(epoch.status == 2)
        #expect(epoch.stderr == "bake: SOURCE_DATE_EPOCH='yesterday' is not a whole number of seconds since 1970-01-01 (like 1700000000); fix or unset it\n")
        let unknown = try BakeCLI.run(["build", "ap"], in: dir.at("p"))
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("no image named 'ap'") && unknown.stderr.contains("did you mean 'app'?"))
        try Fixture.write(dir.at("p/images/app/stage.yaml"), "from: app-base\nsteps:\n  - run: make\n    secrets: [npm]\n")
        let secret = try BakeCLI.run(["build", "app"], in: dir.at("p"))
        #expect(secret.status == 2)
        #expect(secret.stderr == "bake: images/app/stage.yaml:3:5: step 1 of app: secret 'npm' is not given, and the step is not in the cache; pass --secret id=npm,env=VARIABLE or --secret id=npm,src=FILE\n")
        #expect(!FileManager.default.fileExists(atPath: dir.at("p/.bake")))
    }

    @Test func globalOptionsWorkBeforeAndAfterTheCommand() throws {
        let dir = TemporaryDirectory()
        try BakeCLI.toyProject(at: dir.at("p"))
        let before = try BakeCLI.run(["-C", dir.at("p"), "--store", dir.at("s1"), "build", "base"], in: dir.path)
        let after = try BakeCLI.run(["build", "base", "-C", dir.at("p"), "--store", dir.at("s2")], in: dir.path)
        #expect(before.status == 0 && after.status == 0, "\(before.stderr) \(after.stderr)")
        #expect(before.stdout == after.stdout)
        #expect(FileManager.default.fileExists(atPath: dir.at("s1/oci/index.json")))
        #expect(!FileManager.default.fileExists(atPath: dir.at("p/.bake")))
        let inspect = try BakeCLI.run(["--store", dir.at("s2"), "inspect", "base"], in: dir.at("p"))
        #expect(inspect.status == 0)
        #expect(inspect.stdout.hasPrefix("base sha256:"))
    }

    @Test func planAndGraphDescribeThePipelineWithoutSideEffects() throws {
        let dir = TemporaryDirectory()
        try BakeCLI.toyProject(at: dir.at("p"))
        let plan = try BakeCLI.run(["plan", "app"], in: dir.at("p"))
        #expect(plan.status == 0)
        let lines = plan.stdout.split(separator: "\n").map(String.init)
        #expect(lines.filter { !$0.hasPrefix(" ") }.map { String($0.split(separator: " ")[0]) } == ["base", "app-base", "app"])
        #expect(lines.contains("  1. BUILD  copy rootfs/ /  (never built)"))
        #expect(lines.contains("  2. BUILD  copy app-home/ /srv/app/ owner=app:app  (after base is built)"))
        #expect(lines.contains("  3. BUILD  remove /etc/motd  (after base is built)"))
        let dot = try BakeCLI.run(["graph"], in: dir.at("p"))
        #expect(dot.stdout.contains("\"base\" -> \"app-base\";") && dot.stdout.contains("\"app-base\" -> \"app\";"))
        let mermaid = try BakeCLI.run(["graph", "--format", "mermaid"], in: dir.at("p"))
        #expect(mermaid.stdout.hasPrefix("graph LR\n"))
        #expect(!FileManager.default.fileExists(atPath: dir.at("p/.bake")))
    }

    @Test func fsckFindsACorruptBlobAndTheNextBuildReplacesIt() throws {
        let dir = TemporaryDirectory()
        let project = dir.at("p")
        try BakeCLI.toyProject(at: project)
        #expect(try BakeCLI.run(["build", "app"], in: project).status == 0)
        #expect(try BakeCLI.run(["fsck"], in: project).stdout.hasPrefix("store ok: "))
        let report = try BakeCLI.run(["inspect", "app", "--json"], in: project)
        let json = try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any]
        let layer = try #require((json?["layers"] as? [[String: Any]])?.last?["digest"] as? String)
        let blob = project + "/.bake/oci/blobs/sha256/" + layer.dropFirst("sha256:".count)
        var bytes = try #require(FileManager.default.contents(atPath: blob))
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: blob))
        let fsck = try BakeCLI.run(["fsck"], in: project)
        #expect(fsck.status == 1)
        #expect(fsck.stderr.contains("bake: blob \(layer) is corrupt: its bytes hash to sha256:"), "\(fsck.stderr)")
        #expect(fsck.stderr.contains("image app: layer \(layer) is missing or corrupt"))
        let rebuild = try BakeCLI.run(["build", "app"], in: project)
        #expect(rebuild.status == 0, "\(rebuild.stderr)")
        #expect(try BakeCLI.run(["fsck"], in: project).status == 0)
    }

    @Test func readingCommandsExplainAMissingStoreOrImage() throws {
        let dir = TemporaryDirectory()
        try BakeCLI.toyProject(at: dir.at("p"))
        let noStore = try BakeCLI.run(["inspect", "app"], in: dir.at("p"))
        #expect(noStore.status == 2)
        #expect(noStore.stderr.contains("there is no bake store at"))
        #expect(try BakeCLI.run(["build", "base"], in: dir.at("p")).status == 0)
        let noImage = try BakeCLI.run(["inspect", "app"], in: dir.at("p"))
        #expect(noImage.status == 2)
        #expect(noImage.stderr.contains("no image named 'app' in the store"))
        try Fixture.mkdir(dir.at("occupied"))
        try Fixture.write(dir.at("occupied/keep.txt"), "mine")
        let clash = try BakeCLI.run(["export", "base", "--format", "oci", "--output", dir.at("occupied")], in: dir.at("p"))
        #expect(clash.status == 2)
        #expect(clash.stderr.contains("exists and is not an OCI layout"))
        #expect(try Fixture.read(dir.at("occupied/keep.txt")) == "mine")
    }

    /// A host tool bake runs (git here; mmdebstrap and curl the same way) gets a clean, fixed
    /// environment and the default personality, whatever bake was started with: an
    /// LD_PRELOAD or `setarch --uname-2.6` must not reach a Debian base's maintainer scripts.
    @Test(.enabled(if: Host.canRun(tools: ["setarch"]))) func hostToolsGetACleanEnvironmentAndTheDefaultPersonality() throws {
        let dir = TemporaryDirectory()
        let project = dir.at("p")
        try BakeCLI.toyProject(at: project)
        let seen = dir.at("seen")
        try Fixture.write(dir.at("bin/git"), "#!/bin/sh\n{ env; echo \"uname $(uname -r)\"; } > '\(seen)'\nexit 1\n", mode: 0o755)
        let machine = try Command.run(["uname", "-m"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        // The caller's world really is different: uname says 2.6 under setarch.
        let old = try Command.run(["setarch", machine, "--uname-2.6", "uname", "-r"]).stdout
        #expect(old.hasPrefix("2.6."), "\(old)")
        var environment = BakeCLI.baseEnvironment
        environment["PATH"] = dir.at("bin") + ":" + environment["PATH"]!
        environment["LD_PRELOAD"] = "libc.so.6"
        environment["BAKE_TEST_LEAK"] = "leaked"
        environment["https_proxy"] = "http://proxy.example:3128"
        let plan = try Command.run(["setarch", machine, "--uname-2.6", BakeCLI.binary, "plan"], in: project, environment: environment)
        #expect(plan.status == 0, "\(plan.stderr)")
        let lines = try Fixture.read(seen).split(separator: "\n").map(String.init)
        #expect(!lines.contains { $0.hasPrefix("LD_PRELOAD=") || $0.hasPrefix("BAKE_TEST_LEAK=") }, "\(lines)")
        #expect(lines.contains("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"), "\(lines)")
        // How to reach the network is kept.
        #expect(lines.contains("https_proxy=http://proxy.example:3128"), "\(lines)")
        let uname = try #require(lines.first { $0.hasPrefix("uname ") })
        #expect(!uname.hasPrefix("uname 2.6."), "\(uname)")
    }

    /// Every command's EXAMPLES fit 80 columns (help is laid out for 80 when stdout is not a
    /// terminal): no example wraps into column 0, where it would read as another command.
    @Test func everyCommandsExamplesFitEightyColumns() throws {
        let root = try BakeCLI.run(["--help"], in: "/")
        let commands = root.stdout.components(separatedBy: "SUBCOMMANDS:").last!.split(separator: "\n")
            .filter { $0.hasPrefix("  ") && !$0.hasPrefix("   ") && !$0.hasPrefix("  See ") }
            .compactMap { $0.split(separator: " ").first.map(String.init) }
        #expect(commands.count >= 15, "\(commands)")
        // bake's own help (its examples of every command), then each command's.
        for command in [""] + commands {
            let help = try BakeCLI.run((command.isEmpty ? [] : [command]) + ["--help"], in: "/").stdout
            guard let examples = help.components(separatedBy: "EXAMPLES:\n").dropFirst().first?.components(separatedBy: "USAGE:").first else {
                continue
            }
            for line in examples.split(separator: "\n") {
                #expect(line.hasPrefix("  ") && line.count <= 80, "bake \(command) --help: \(line)")
            }
        }
    }
}
