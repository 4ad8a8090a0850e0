import Foundation
import Glibc
import Testing
import TestSupport

/// `bake run`'s stop signal and grace period, and its --user, --workdir and --volume, end to
/// end through the `bake` binary, on busybox.
@Suite(.enabled(if: Host.canRun(tools: ["busybox"], root: true)))
struct RunOptionsTests {
    static let site = """
        from: tools
        steps:
          - run: mkdir -p /srv/app && ln -s /etc /srv/app/etc-link && ln -s /proc/sys /srv/app/proc-link && ln -s / /srv/app/top
        config:
          user: web
          workdir: /srv/app
          stopSignal: SIGQUIT

        """

    /// A project with the `site` image built.
    static func project(in dir: TemporaryDirectory) throws -> String {
        let project = dir.at("p")
        try BusyboxProject.write(at: project, images: ["site": Self.site])
        let build = try BakeCLI.run(["build", "site"], in: project)
        #expect(build.status == 0, "\(build.stderr)")
        return project
    }

    /// Waits until the command of `server` has printed `text` (60 s at most).
    static func waitForOutput(_ server: Server, _ text: String) throws {
        try RunStepTests.waitFor {
            ((try? Fixture.read(server.dir.at("out"))) ?? "").contains(text) || !server.process.isRunning
        }
        guard server.process.isRunning else {
            throw FixtureError("bake run ended early (\(server.process.terminationStatus)): \((try? Fixture.read(server.dir.at("err"))) ?? "")")
        }
    }

    @Test(arguments: [SIGINT, SIGTERM])
    func anInterruptSendsTheImagesStopSignalToTheCommand(signal: Int32) throws {
        let dir = TemporaryDirectory("bake-run-options")
        let project = try Self.project(in: dir)
        let script = "trap 'echo got QUIT; exit 3' QUIT; trap 'echo got TERM; exit 4' TERM; echo ready; while :; do sleep 1; done"
        let server = try Server(["run", "site", "--", "sh", "-c", script], in: project)
        defer { server.kill() }
        try Self.waitForOutput(server, "ready")
        kill(server.process.processIdentifier, signal)
        for _ in 0..<300 where server.process.isRunning { usleep(100_000) }
        #expect(!server.process.isRunning, "bake run did not stop within 30 s")
        guard !server.process.isRunning else { return }
        #expect(server.process.terminationReason == .exit && server.process.terminationStatus == 130)
        #expect(try Fixture.read(server.dir.at("out")) == "ready\ngot QUIT\n")
    }

    @Test func aCommandThatIgnoresTheStopSignalIsKilledAfterTheStopTimeout() throws {
        let dir = TemporaryDirectory("bake-run-options")
        let project = try Self.project(in: dir)
        // (The sleep's argument is computed, so that only the sleep's command line holds it.)
        let script = "trap '' QUIT TERM; echo ready; while :; do sleep $((31400 + 7)); done"
        let server = try Server(["run", "site", "--stop-timeout", "1", "--", "sh", "-c", script], in: project)
        defer { server.kill() }
        try Self.waitForOutput(server, "ready")
        let start = Date()
        kill(server.process.processIdentifier, SIGINT)
        for _ in 0..<300 where server.process.isRunning { usleep(50_000) }
        let waited = Date().timeIntervalSince(start)
        #expect(!server.process.isRunning, "bake run did not stop within 15 s")
        guard !server.process.isRunning else { return }
        #expect(server.process.terminationReason == .exit && server.process.terminationStatus == 130)
        // It had its grace period, then no more than that.
        #expect(waited >= 0.9 && waited < 8, "\(waited)")
        #expect(HostState.processes(containing: "sleep 31407").isEmpty)
        #expect(HostState.mounts(under: dir.path).isEmpty)
    }

    @Test func userAndWorkdirOverrideTheImages() throws {
        let dir = TemporaryDirectory("bake-run-options")
        let project = try Self.project(in: dir)
        let script = ["--", "sh", "-c", "pwd; id -u; id -g"]
        let plain = try BakeCLI.run(["run", "site"] + script, in: project)
        #expect(plain.stdout == "/srv/app\n33\n33\n", "\(plain.stderr)")
        let overridden = try BakeCLI.run(["run", "site", "--user", "0", "--workdir", "/etc"] + script, in: project)
        #expect(overridden.status == 0, "\(overridden.stderr)")
        #expect(overridden.stdout == "/etc\n0\n0\n")
        // Names and groups resolve through the image's /etc/passwd and /etc/group.
        let named = try BakeCLI.run(["run", "site", "-u", "root:www", "-w", "/"] + script, in: project)
        #expect(named.stdout == "/\n0\n33\n", "\(named.stderr)")
        // HOME follows the user.
        let home = try BakeCLI.run(["run", "site", "--user", "root", "--", "sh", "-c", "echo $HOME"], in: project)
        #expect(home.stdout == "/root\n")
    }

    @Test func aVolumeIsTheHostsFolderReadWriteOrReadOnly() throws {
        let dir = TemporaryDirectory("bake-run-options")
        let project = try Self.project(in: dir)
        let host = dir.at("host")
        try Fixture.write(host + "/in", "from the host\n")
        // Read-write: what the command writes is on the host (as the image's user, 33).
        try Fixture.write(dir.at("file"), "one file\n")
        let written = try BakeCLI.run(["run", "site", "--user", "0", "--volume", "\(host):/data", "--volume", "../file:/etc/motd:ro",
                                       "--", "sh", "-c", "cat /data/in /etc/motd; echo from the image > /data/out"], in: project)
        #expect(written.status == 0, "\(written.stderr)")
        #expect(written.stdout == "from the host\none file\n")
        #expect(try Fixture.read(host + "/out") == "from the image\n")
        // Read-only: writing fails, and nothing reaches the host.
        let readOnly = try BakeCLI.run(["run", "site", "--user", "0", "-v", "\(host):/data:ro", "--", "sh", "-c", "cat /data/in; echo x > /data/x"],
                                       in: project)
        #expect(readOnly.status != 0)
        #expect(readOnly.stdout == "from the host\n")
        #expect(readOnly.stderr.contains("Read-only file system"), "\(readOnly.stderr)")
        #expect(!FileManager.default.fileExists(atPath: host + "/x"))
        // The mount point the sandbox made is gone with the run's other changes.
        #expect(try BakeCLI.run(["run", "site", "--", "test", "-e", "/data"], in: project).status == 1)
        #expect(HostState.mounts(under: dir.path).isEmpty)
    }

    @Test func aVolumeTargetIsResolvedInsideTheImageNeverOnTheHost() throws {
        let dir = TemporaryDirectory("bake-run-options")
        let project = try Self.project(in: dir)
        let host = dir.at("host")
        try Fixture.write(host + "/in", "inside\n")
        let name = "bake-volume-\(UInt64.random(in: 1 << 40 ..< 1 << 50))"
        // /srv/app/etc-link -> /etc in the image: the volume lands in the image's /etc.
        let run = try BakeCLI.run(["run", "site", "-v", "\(host):/srv/app/etc-link/\(name)", "--", "cat", "/etc/\(name)/in"], in: project)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout == "inside\n")
        #expect(!FileManager.default.fileExists(atPath: "/etc/\(name)"))
        #expect(HostState.mounts(under: dir.path).isEmpty)
        // A symlink into /proc is no way around the refusal.
        let proc = try BakeCLI.run(["run", "site", "-v", "\(host):/srv/app/proc-link", "--", "true"], in: project)
        // (The image decides where a volume lands: an impossible one is --volume's fault, exit 2.)
        #expect(proc.status == 2)
        #expect(proc.stderr.hasPrefix("bake: --volume: "), "\(proc.stderr)")
        #expect(proc.stderr.contains("a volume cannot be mounted in /proc or /sys: /srv/app/proc-link"), "\(proc.stderr)")
        // Nor is the root itself, reached through a symlink.
        let top = try BakeCLI.run(["run", "site", "-v", "\(host):/srv/app/top", "--", "true"], in: project)
        #expect(top.status == 2)
        #expect(top.stderr.contains("a volume cannot replace the image's root folder; a symlink leads there from /srv/app/top"), "\(top.stderr)")
        // Nor is one through /proc's magic links (/dev/fd -> /proc/self/fd).
        let magic = try BakeCLI.run(["run", "site", "-v", "\(host):/dev/fd/0", "--", "true"], in: project)
        #expect(magic.status == 2, "\(magic.stderr)")
    }

    static let badInput: [([String], String)] = [
        (["--volume", "/nonexistent-bake-host:/data"], "bake: --volume /nonexistent-bake-host:/data: the host path /nonexistent-bake-host does not exist\n"),
        (["--volume", "{host}:data"], "bake: --volume {host}:data: the path in the image must be absolute, like /data\n"),
        (["--volume", "{host}"], "bake: --volume {host} is not HOST:IMAGE, HOST:IMAGE:ro or HOST:IMAGE:rw\n"),
        (["--volume", "{host}:/data:rx"], "bake: --volume {host}:/data:rx is not HOST:IMAGE, HOST:IMAGE:ro or HOST:IMAGE:rw\n"),
        (["--volume", "{host}:/a/../b"], "bake: --volume {host}:/a/../b: the path in the image must not contain '..'\n"),
        (["--volume", "{host}:/proc/sys"], "bake: --volume {host}:/proc/sys: a volume cannot be mounted in /proc\n"),
        (["--volume", "{host}:/"], "bake: --volume {host}:/: a volume cannot replace the image's root folder /\n"),
        (["--user", "nobody"], "bake: --user nobody: user 'nobody' is not in the image's /etc/passwd\n"),
        (["--user", "web:staff"], "bake: --user web:staff: group 'staff' is not in the image's /etc/group\n"),
        (["--user", "a:b:c"], "bake: --user a:b:c is not a user, uid, user:group or uid:gid\n"),
        (["--workdir", "srv"], "bake: --workdir srv must be an absolute path in the image, like /srv\n"),
        (["--workdir", "/nowhere"], "bake: --workdir /nowhere: image site has no folder /nowhere\n"),
        (["--stop-timeout", "soon"], "bake: --stop-timeout soon is not a whole number of seconds, like 10\n"),
    ]

    @Test(arguments: badInput)
    func badOptionsAreBadInputNamingTheOption(options: [String], message: String) throws {
        let dir = TemporaryDirectory("bake-run-options")
        let project = try Self.project(in: dir)
        let host = dir.at("host")
        try Fixture.mkdir(host)
        let arguments = options.map { $0.replacingOccurrences(of: "{host}", with: host) }
        let run = try BakeCLI.run(["run", "site"] + arguments + ["--", "echo", "ran"], in: project)
        #expect(run.status == 2)
        #expect(run.stdout == "")
        #expect(run.stderr == message.replacingOccurrences(of: "{host}", with: host))
    }
}
