import Foundation
import Glibc
import Testing
import TestSupport

/// A step as an adversary writes it (issue 13): it must not leave the host a setuid file,
/// stash a secret in the kernel, exhaust the machine, run as root by wrapping its uid, or
/// leave the terminal raw. End to end through the `bake` binary, on busybox and a static probe.
@Suite(.enabled(if: Host.canRun(tools: ["busybox", "cc", "setpriv", "python3"], root: true)))
struct SandboxHardeningTests {
    /// `BusyboxProject` with /bin/probe (`StaticProbe`), `stat`, `stty` and `mknod` in the tools
    /// image, and the users `app` (1000, primary group 50) and `evil` (uid 4294967295).
    static func project(at project: String, images: [String: String]) throws {
        try BusyboxProject.write(at: project, images: images)
        let rootfs = project + "/images/tools/rootfs"
        try StaticProbe.write(at: rootfs + "/bin/probe")
        for applet in ["stat", "stty", "mknod"] { try Fixture.symlink("busybox", at: rootfs + "/bin/\(applet)") }
        try Fixture.write(rootfs + "/etc/passwd", """
            root:x:0:0:root:/root:/bin/sh
            web:x:33:33::/srv:/bin/sh
            app:x:1000:50::/home/app:/bin/sh
            evil:x:4294967295:4294967295::/:/bin/sh
            member:x:1001:50::/:/bin/sh

            """)
        try Fixture.write(rootfs + "/etc/group", "root:x:0:\nwww:x:33:\nstaff:x:50:\nhuge:x:4294967295:member\n")
    }

    /// Runs `arguments` as the host user nobody (uid and gid 65534, no groups).
    static func asNobody(_ arguments: [String]) throws -> CommandResult {
        try Command.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + arguments)
    }

    @Test func scratchFoldersAreClosedToOtherHostUsersWhileAStepRuns() throws {
        let dir = TemporaryDirectory("bake-scratch")
        // Open up to the project, so only the store's own modes can keep nobody out.
        chmod(dir.path, 0o755)
        let project = dir.at("p")
        try Self.project(at: project, images: [
            "planted": "from: tools\nsteps:\n  - run: cp /bin/busybox /p && chmod 4755 /p && mknod -m 666 /blk b 8 0 && sleep 31410\n",
        ])
        #expect(try Self.asNobody(["stat", project + "/images"]).status == 0, "nobody must reach the project for this test to mean anything")
        let build = try RunStepTests.start(["build", "planted"], in: project)
        defer { build.interrupt(); build.waitUntilExit() }
        var planted: String?
        try RunStepTests.waitFor {
            let steps = (try? FileManager.default.contentsOfDirectory(atPath: project + "/.bake/tmp")) ?? []
            planted = steps.map { project + "/.bake/tmp/\($0)/upper/p" }.first { FileManager.default.fileExists(atPath: $0) }
            return planted != nil && !HostState.processes(containing: "sleep 31410").isEmpty
        }
        let file = try #require(planted)
        let step = (file as NSString).deletingLastPathComponent.replacingOccurrences(of: "/upper", with: "")
        // (.bake itself may be stat'ed, as any name in a folder one may read: not entered.)
        for path in [file, step + "/upper/blk", step + "/upper", step, project + "/.bake/tmp"] {
            let seen = try Self.asNobody(["stat", path])
            #expect(seen.status != 0, "nobody can stat \(path)")
        }
        #expect(try Self.asNobody([file, "id"]).status != 0)
        #expect(try Self.asNobody(["ls", project + "/.bake"]).status != 0)
        // Each is made 0700, not only shielded by its parent.
        for path in [project + "/.bake", project + "/.bake/tmp", step] {
            var status = stat()
            #expect(lstat(path, &status) == 0 && status.st_mode & 0o7777 == 0o700, "\(path): \(String(status.st_mode & 0o7777, radix: 8))")
        }
    }

    @Test func aKeyAStepAddsReachesNeitherTheNextStepNorTheHost() throws {
        let dir = TemporaryDirectory("bake-keys")
        let project = dir.at("p")
        let name = "bake-test-key-\(getpid())-\(Int.random(in: 0..<1_000_000))"
        try Self.project(at: project, images: [
            "keys": """
                from: tools
                steps:
                  - run: probe add \(name) "$(cat /run/secrets/tok)"
                    secrets: [tok]
                  - run: probe find \(name)

                """,
        ])
        let probe = dir.at("host-probe")
        try StaticProbe.write(at: probe)
        defer { _ = try? Command.run([probe, "forget", name]) }
        let build = try BakeCLI.run(["--progress", "plain", "build", "keys", "--secret", "id=tok,env=TOK"], in: project,
                                    environment: ["TOK": "stashed-secret"])
        #expect(build.status == 0, "\(build.stderr)")
        #expect(build.stderr.contains("keys step 1 | add_key EPERM"), "\(build.stderr)")
        #expect(build.stderr.contains("keys step 2 | request_key EPERM"), "\(build.stderr)")
        let keys = (try? String(contentsOfFile: "/proc/keys", encoding: .utf8)) ?? ""
        #expect(!keys.contains(name), "\(keys)")
        #expect(try Command.run([probe, "find", name]).stdout == "request_key ENOKEY\n")
    }

    @Test func theSandboxsInitIgnoresTheSignalsAStepSendsIt() throws {
        // The init is a copy of bake (its memory holds the build's secrets) and inherited the
        // Swift runtime's crash handlers: a step that sent it SIGBUS made it start the
        // runtime's memory server and run /opt/swift/.../swift-backtrace, a path inside the image.
        let dir = TemporaryDirectory("bake-init-signals")
        let project = dir.at("p")
        try Self.project(at: project, images: [
            "poke": "from: tools\nsteps:\n  - run: for s in BUS SEGV ILL FPE TRAP ABRT SYS; do kill -$s 1; done; sleep 1; echo init-still-there\n",
        ])
        let build = try BakeCLI.run(["--progress", "plain", "build", "poke"], in: project, environment: ["BAKE_TEST_SECRET": "s3cr3t"])
        #expect(build.status == 0, "\(build.stderr)")
        #expect(build.stdout.contains("init-still-there") || build.stderr.contains("init-still-there"), "\(build.stdout)")
        for leak in ["Backtrac", "swift-backtrace", "Crash", "s3cr3t"] {
            #expect(!build.stderr.contains(leak) && !build.stdout.contains(leak), "\(leak): \(build.stderr)")
        }
    }

    @Test func aStepsSymlinksNeverLeadBakesCleanupIntoAHostFolder() throws {
        let dir = TemporaryDirectory("bake-links")
        let project = dir.at("p")
        let host = dir.at("hostdir")
        try Fixture.write(host + "/resolv.conf", "")
        try Fixture.mkdir(host + "/secrets")
        // An image without /etc and /run.
        try Self.project(at: project, images: [
            "bare": "from: scratch\nsteps:\n  - copy: rootfs/\n    to: /\n  - run: ln -s \(host) /etc; ln -s \(host) /run\n",
        ])
        try BusyboxRoot.write(at: project + "/images/bare/rootfs", applets: ["sh", "ln"])
        try FileManager.default.removeItem(atPath: project + "/images/bare/rootfs/etc")
        let build = try BakeCLI.run(["build", "bare"], in: project)
        #expect(build.status == 0, "\(build.stderr)")
        #expect(FileManager.default.fileExists(atPath: host + "/resolv.conf"))
        #expect(FileManager.default.fileExists(atPath: host + "/secrets"))
    }

    static let limited = """
        from: tools
        steps:
          - run: probe forks 5000
            limits: {pids: 64}

        """

    @Test func aStepThatForksInALoopFailsAtItsProcessLimit() throws {
        let dir = TemporaryDirectory("bake-limits")
        let project = dir.at("p")
        try Self.project(at: project, images: ["bomb": Self.limited])
        let build = try BakeCLI.run(["build", "bomb"], in: project)
        #expect(build.status == 1, "\(build.stderr)")
        #expect(build.stderr.contains("images/bomb/stage.yaml:3:5: step 1 of bomb reached its limit of 64 processes"), "\(build.stderr)")
        #expect(HostState.processes(containing: "probe forks").isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: project + "/.bake/tmp").isEmpty)
    }

    @Test func aStepACheckAndBakeRunOverTheirMemoryLimitFailWithOneSentence() throws {
        let dir = TemporaryDirectory("bake-limits")
        let project = dir.at("p")
        try Self.project(at: project, images: [
            "hog": "from: tools\nsteps:\n  - run: probe alloc 256\n    limits: {memory: 64M, pids: 100}\n",
            "checked": "from: tools\nchecks:\n  - run: probe alloc 256\n    limits: {memory: 64M}\n",
        ])
        let step = try BakeCLI.run(["build", "hog"], in: project)
        #expect(step.status == 1, "\(step.stderr)")
        #expect(step.stderr.contains("images/hog/stage.yaml:3:5: step 1 of hog used its memory limit of 64 MiB and was killed"), "\(step.stderr)")
        let check = try BakeCLI.run(["build", "checked"], in: project)
        #expect(check.status == 1, "\(check.stderr)")
        #expect(check.stderr.contains("images/checked/stage.yaml:3:5: check 1 of checked used its memory limit of 64 MiB and was killed"),
                "\(check.stderr)")
        #expect(try BakeCLI.run(["build", "tools"], in: project).status == 0)
        let run = try BakeCLI.run(["run", "--memory", "64M", "tools", "--", "probe", "alloc", "256"], in: project)
        #expect(run.status == 1 && run.stderr.contains("the command used its memory limit of 64 MiB and was killed"), "\(run.stderr)")
        let forks = try BakeCLI.run(["run", "--pids", "64", "tools", "--", "probe", "forks", "5000"], in: project)
        #expect(forks.status == 1 && forks.stderr.contains("the command reached its limit of 64 processes"), "\(forks.stderr)")
        let fits = try BakeCLI.run(["run", "--memory", "64M", "tools", "--", "probe", "alloc", "8"], in: project)
        #expect(fits.status == 0 && fits.stdout == "allocated\n", "\(fits.stderr)")
        let bad = try BakeCLI.run(["run", "--memory", "lots", "tools"], in: project)
        #expect(bad.status == 2 && bad.stderr.contains("--memory"), "\(bad.stderr)")
    }

    @Test func aStageFileCannotAskForMoreThanThePersonRunningBakeAllows() throws {
        // A stage file may come from a pull request: its limits: stay under the ceiling of
        // whoever runs bake (the defaults unless --max-memory/--max-pids raise them).
        let dir = TemporaryDirectory("bake-ceiling")
        let project = dir.at("p")
        try Self.project(at: project, images: [
            "greedy": "from: tools\nsteps:\n  - run: \"true\"\n    limits: {pids: 100000}\n",
            "hungry": "from: tools\nchecks:\n  - run: \"true\"\n    limits: {memory: 64T}\n",
            "plain": "from: tools\nsteps:\n  - run: probe alloc 256\n",
        ])
        let greedy = try BakeCLI.run(["build", "greedy"], in: project)
        #expect(greedy.status == 2, "\(greedy.stderr)")
        #expect(greedy.stderr.contains("images/greedy/stage.yaml:3:5: step 1 of greedy: its limit of 100000 processes is above the most this build allows, 4096 (the default; the person running bake raises it with --max-pids)"),
                "\(greedy.stderr)")
        #expect(!FileManager.default.fileExists(atPath: project + "/.bake"), "refused before the store is touched")
        let hungry = try BakeCLI.run(["build", "hungry"], in: project)
        #expect(hungry.status == 2, "\(hungry.stderr)")
        #expect(hungry.stderr.contains("images/hungry/stage.yaml:3:5: check 1 of hungry: its memory limit of 64 TiB is above the most this build allows"),
                "\(hungry.stderr)")
        let allowed = try BakeCLI.run(["build", "greedy", "--max-pids", "100000"], in: project)
        #expect(allowed.status == 0, "\(allowed.stderr)")
        let verified = try BakeCLI.run(["verify", "greedy", "--max-pids", "100000"], in: project)
        #expect(verified.status == 0, "\(verified.stdout) \(verified.stderr)")
        // A lower ceiling lowers the default too.
        let small = try BakeCLI.run(["build", "plain", "--max-memory", "64M"], in: project)
        #expect(small.status == 1, "\(small.stderr)")
        #expect(small.stderr.contains("images/plain/stage.yaml:3:5: step 1 of plain used its memory limit of 64 MiB and was killed"), "\(small.stderr)")
        let bad = try BakeCLI.run(["build", "plain", "--max-pids", "many"], in: project)
        #expect(bad.status == 2 && bad.stderr.contains("--max-pids many"), "\(bad.stderr)")
    }

    @Test func theLargestUidIsRefusedWhereverAUserIsResolved() throws {
        let dir = TemporaryDirectory("bake-uid")
        let project = dir.at("p")
        try Self.project(at: project, images: [
            "evil": "from: tools\nconfig:\n  user: evil\n",
            "step": "from: tools\nsteps:\n  - run: id\n    user: evil\n",
            "check": "from: tools\nchecks:\n  - run: id\n    user: evil\n",
            "member": "from: tools\nsteps:\n  - run: id\n    user: member\n",
        ])
        #expect(try BakeCLI.run(["build", "evil"], in: project).status == 0)
        let run = try BakeCLI.run(["run", "evil", "--", "id", "-u"], in: project)
        #expect(run.status == 2 && run.stdout.isEmpty, "\(run.stdout) \(run.stderr)")
        #expect(run.stderr.contains("user 'evil' has uid 4294967295"), "\(run.stderr)")
        let step = try BakeCLI.run(["build", "step"], in: project)
        #expect(step.status == 2, "\(step.stderr)")
        #expect(step.stderr.contains("images/step/stage.yaml:3:5: step 1 of step: user 'evil' has uid 4294967295"), "\(step.stderr)")
        let check = try BakeCLI.run(["build", "check"], in: project)
        #expect(check.status == 2, "\(check.stderr)")
        #expect(check.stderr.contains("images/check/stage.yaml:3:5: check 1 of check: user 'evil' has uid 4294967295"), "\(check.stderr)")
        // A supplementary group is resolved by the same rule: setgroups refuses the id.
        let member = try BakeCLI.run(["build", "member"], in: project)
        #expect(member.status == 2, "\(member.stderr)")
        #expect(member.stderr.contains("images/member/stage.yaml:3:5: step 1 of member: user 'member' is in group 'huge', whose gid 4294967295"),
                "\(member.stderr)")
    }

    @Test func ownerAndUserResolveANumericUserByOneRule() throws {
        // uid 1000 is `app`, whose primary group is 50: a numeric owner and a numeric user
        // both get group 50; a uid the image does not know gets its own number as group.
        let dir = TemporaryDirectory("bake-users")
        let project = dir.at("p")
        try Fixture.write(project + "/images/users/f", "f\n")
        try Self.project(at: project, images: [
            "users": """
                from: tools
                steps:
                  - copy: f
                    to: /known
                    owner: "1000"
                  - copy: f
                    to: /unknown
                    owner: "1234"
                  - run: test "$(stat -c %u:%g /known)" = "1000:50" && test "$(id -u):$(id -g)" = "1000:50"
                    user: "1000"
                  - run: test "$(stat -c %u:%g /unknown)" = "1234:1234" && test "$(id -u):$(id -g)" = "1234:1234"
                    user: "1234"

                """,
        ])
        let build = try BakeCLI.run(["build", "users"], in: project)
        #expect(build.status == 0, "\(build.stderr)")
    }

    /// `bake run` under a pseudo-terminal: the terminal's settings before and after.
    static let terminal = #"""
        import os, select, signal, subprocess, sys, termios, time
        bake, project, mode = sys.argv[1:4]
        master, slave = os.openpty()
        before = termios.tcgetattr(slave)
        script = "stty -echo raw" if mode == "exit" else "stty -echo raw; exec sleep 31421"
        p = subprocess.Popen([bake, "run", "tools", "--", "sh", "-c", script], stdin=slave, stdout=slave, stderr=slave,
                             cwd=project, start_new_session=True)
        def sleeping():
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    if open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")[:2] == [b"sleep", b"31421"]: return True
                except OSError: pass
            return False
        deadline = time.time() + 60
        interrupted = False
        while p.poll() is None and time.time() < deadline:
            if mode == "signal" and not interrupted and sleeping():
                time.sleep(0.2)
                os.kill(p.pid, signal.SIGINT)
                interrupted = True
            if select.select([master], [], [], 0.1)[0]:
                os.read(master, 4096)
        p.wait()
        after = termios.tcgetattr(slave)
        print("status", p.returncode)
        print("same" if after == before else "changed")
        """#

    @Test(arguments: [("exit", "0"), ("signal", "130")])
    func bakeRunGivesTheTerminalBackAsItWas(mode: String, status: String) throws {
        let dir = TemporaryDirectory("bake-tty")
        let project = dir.at("p")
        try Self.project(at: project, images: [:])
        #expect(try BakeCLI.run(["build", "tools"], in: project).status == 0)
        try Fixture.write(dir.at("terminal.py"), Self.terminal)
        let result = try Command.run(["python3", dir.at("terminal.py"), BakeCLI.binary, project, mode])
        #expect(result.stdout == "status \(status)\nsame\n", "\(result.stdout) \(result.stderr)")
    }
}
