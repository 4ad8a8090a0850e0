import Foundation
import Testing
import TestSupport

/// `run` steps, secrets and checks, end to end through the `bake` binary, on busybox.
@Suite(.enabled(if: Host.canRun(tools: ["busybox"], root: true)))
struct RunStepTests {
    static let changes = """
        from: tools
        steps:
          - run: |
              echo new > /etc/new
              echo changed > /etc/old
              rm /etc/doomed
              mkdir -p /srv/www && echo hello > /srv/www/index.html && chown -R 33:33 /srv/www
              ln -s /srv/www /www
              sleep 31400 &
          - run: hostname > /etc/built-on; umask > /etc/umask; echo "$TZ $LC_ALL $HOME $PATH" > /etc/env
          - run: test "$(id -u)" = 33 && ls / > /dev/null && touch /srv/www/by-web && rm /srv/www/by-web
            user: web
        config:
          env: {GREETING: hi}
          workdir: /srv/www
          user: web
          cmd: [/bin/sh, -c, 'echo "$GREETING from $(pwd) as $(id -u)"']

        """

    @Test(.enabled(if: Host.canRun(tools: ["umoci", "busybox"], root: true)))
    func aRunStepCreatesChangesAndDeletesAndUmociSeesExactlyThat() throws {
        let dir = TemporaryDirectory("bake-run")
        let project = dir.at("p")
        // Its own number for the background sleep: other tests build `changes` at the same time.
        try BusyboxProject.write(at: project, images: ["site": Self.changes.replacingOccurrences(of: "sleep 31400", with: "sleep 31406")])
        let build = try BakeCLI.run(["--progress", "plain", "build", "site"], in: project)
        #expect(build.status == 0, "\(build.stderr)")
        let bundle = dir.at("bundle")
        let unpack = try Command.run(["umoci", "unpack", "--image", "\(project)/.bake/oci:site", bundle])
        #expect(unpack.status == 0, "\(unpack.stderr)")
        let tree = try InteropTests.tree(bundle + "/rootfs").filter { !$0.hasPrefix("./bin/") }
        #expect(tree == [
            "./bin drwxr-xr-x 0:0 4096 ",
            "./etc drwxr-xr-x 0:0 4096 ",
            "./etc/built-on -rw-r--r-- 0:0 5 ",
            "./etc/env -rw-r--r-- 0:0 \(try Fixture.read(bundle + "/rootfs/etc/env").utf8.count) ",
            "./etc/group -rw-r--r-- 0:0 20 ",
            "./etc/new -rw-r--r-- 0:0 4 ",
            "./etc/old -rw-r--r-- 0:0 8 ",
            "./etc/passwd -rw-r--r-- 0:0 56 ",
            "./etc/umask -rw-r--r-- 0:0 5 ",
            "./srv drwxr-xr-x 0:0 4096 ",
            "./srv/www drwxr-xr-x 33:33 4096 ",
            "./srv/www/index.html -rw-r--r-- 33:33 6 ",
            "./www lrwxrwxrwx 0:0 8 /srv/www",
        ], "\(tree)")
        #expect(try Fixture.read(bundle + "/rootfs/etc/old") == "changed\n")
        #expect(try Fixture.read(bundle + "/rootfs/etc/built-on") == "bake\n")
        #expect(try Fixture.read(bundle + "/rootfs/etc/umask") == "0022\n")
        #expect(try Fixture.read(bundle + "/rootfs/etc/env") == "UTC C.UTF-8 /root /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n")
        // The background process died with its step, and nothing stays mounted.
        #expect(HostState.processes(containing: "sleep 31406").isEmpty)
        #expect(HostState.mounts(under: project).isEmpty)
        // A run step's layer records its command.
        let inspect = try BakeCLI.run(["inspect", "site", "--json"], in: project)
        #expect(inspect.stdout.contains("hostname > /etc/built-on"))
    }

    @Test func anImageWithRunStepsBuiltTwiceFromNothingHasTheSameDigest() throws {
        var digests: [[String: String]] = []
        let dirs = [TemporaryDirectory("bake-run"), TemporaryDirectory("bake-run")]
        for (dir, umask) in zip(dirs, ["022", "077"]) {
            try BusyboxProject.write(at: dir.at("p"), images: ["site": Self.changes])
            let result = try BakeCLI.run(["build", "site"], in: dir.at("p"), umask: umask)
            #expect(result.status == 0, "\(result.stderr)")
            digests.append(BakeCLI.digests(result.stdout))
        }
        // And once more in the first store, every step run again.
        let again = try BakeCLI.run(["build", "site", "--no-cache"], in: dirs[0].at("p"))
        digests.append(BakeCLI.digests(again.stdout))
        #expect(digests[0]["site"] != nil)
        #expect(digests[0] == digests[1])
        #expect(digests[0] == digests[2])
        // The image built under umask 077 verifies (the rebuild then runs under 022).
        let verify = try BakeCLI.run(["verify", "site"], in: dirs[1].at("p"), umask: "077")
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        #expect(verify.stderr.contains("umask 0022"))
    }

    @Test func withoutNetworkAStepCannotReachTheHostAndWithItItCan() throws {
        let server = try PongServer()
        let dir = TemporaryDirectory("bake-run")
        let fetch = "wget -q -O /got http://127.0.0.1:\(server.port)/"
        try BusyboxProject.write(at: dir.at("p"), images: [
            "offline": "from: tools\nsteps:\n  - run: \(fetch)\n",
            "online": "from: tools\nsteps:\n  - run: \(fetch)\n    network: true\n",
        ])
        let offline = try BakeCLI.run(["build", "offline"], in: dir.at("p"))
        #expect(offline.status == 1)
        #expect(offline.stderr.contains("images/offline/stage.yaml:3:5: step 1 of offline failed: its command exited with status 1"), "\(offline.stderr)")
        #expect(offline.stderr.contains("Connection refused"), "\(offline.stderr)")
        let online = try BakeCLI.run(["build", "online"], in: dir.at("p"))
        #expect(online.status == 0, "\(online.stderr)")
        let run = try BakeCLI.run(["run", "online", "--", "cat", "/got"], in: dir.at("p"))
        #expect(run.stdout == "pong\n")
    }

    @Test func aFailingStepFailsTheBuildWithItsOutputAndLeavesNothingBehind() throws {
        let dir = TemporaryDirectory("bake-run")
        try BusyboxProject.write(at: dir.at("p"), images: [
            "broken": "from: tools\nsteps:\n  - run: |\n      sleep 31401 &\n      echo about to fail\n      exit 3\n",
        ])
        let result = try BakeCLI.run(["--progress", "plain", "build", "broken"], in: dir.at("p"))
        #expect(result.status == 1)
        #expect(result.stderr.contains("broken step 1 | about to fail"), "\(result.stderr)")
        #expect(result.stderr.contains("step 1 of broken failed: its command exited with status 3"))
        #expect(HostState.processes(containing: "sleep 31401").isEmpty)
        #expect(HostState.mounts(under: dir.path).isEmpty)
        // Nothing is recorded under the name, nothing is left in the store's scratch space.
        #expect(try BakeCLI.run(["inspect", "broken"], in: dir.at("p")).status != 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.at("p/.bake/tmp")).isEmpty)
        #expect(try BakeCLI.run(["fsck"], in: dir.at("p")).status == 0)
    }

    @Test func anInterruptedStepLeavesNoProcessNoMountAndAStoreThatWorks() throws {
        let dir = TemporaryDirectory("bake-run")
        let project = dir.at("p")
        try BusyboxProject.write(at: project, images: ["slow": "from: tools\nsteps:\n  - run: sleep 31402 & sleep 31403\n"])
        let build = try Self.start(["build", "slow"], in: project)
        try Self.waitFor { !HostState.processes(containing: "sleep 31403").isEmpty }
        build.interrupt()
        build.waitUntilExit()
        #expect(build.terminationReason == .exit && build.terminationStatus == 130)
        #expect(HostState.processes(containing: "sleep 31402").isEmpty && HostState.processes(containing: "sleep 31403").isEmpty)
        #expect(HostState.mounts(under: dir.path).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: project + "/.bake/tmp").isEmpty)
        #expect(try BakeCLI.run(["fsck"], in: project).status == 0)
        // The next build starts the step again and the store serves it.
        try Fixture.write(project + "/images/slow/stage.yaml", "from: tools\nsteps:\n  - run: echo done > /done\n")
        #expect(try BakeCLI.run(["build", "slow"], in: project).status == 0)
    }

    @Test func secretsReachTheStepButNeverTheStoreOrTheOutput() throws {
        let dir = TemporaryDirectory("bake-run")
        let project = dir.at("p")
        let value = "s3cr3t-\(UInt64.random(in: 1 << 40 ..< 1 << 50))"
        let fileValue = "f1le-\(UInt64.random(in: 1 << 40 ..< 1 << 50))"
        // A file secret ends with a newline, as files do; masking must still catch the value.
        try Fixture.write(dir.at("token.txt"), fileValue + "\n")
        try BusyboxProject.write(at: project, images: ["app": """
            from: tools
            steps:
              - run: |
                  test -r /run/secrets/api
                  wc -c < /run/secrets/api > /api-length
                  cat /run/secrets/api; echo
                  echo "token is $(cat /run/secrets/file)"
                  ls /run/secrets > /listed
                secrets: [api, file]
              - run: test ! -e /run/secrets/api && echo gone > /after

            """])
        let result = try BakeCLI.run(["--progress", "plain", "build", "app", "--secret", "id=api,env=API_TOKEN",
                                      "--secret", "id=file,src=\(dir.at("token.txt"))"],
                                     in: project, environment: ["API_TOKEN": value])
        #expect(result.status == 0, "\(result.stderr)")
        // The step saw the values (their lengths are in the image) ...
        let run = try BakeCLI.run(["run", "app", "--", "cat", "/api-length", "/listed", "/after"], in: project)
        #expect(run.stdout == "\(value.utf8.count)\napi\nfile\ngone\n", "\(run.stdout) \(run.stderr)")
        // ... which the output shows masked and the store does not hold, decompressed or not.
        #expect(result.stderr.contains("app step 1 | ****"))
        #expect(result.stderr.contains("app step 1 | token is ****"))
        for secret in [value, fileValue] {
            #expect(!result.stdout.contains(secret) && !result.stderr.contains(secret))
            #expect(try BusyboxProject.linesInTheStore(project, containing: secret) == 0)
        }
        // The search does see inside decompressed layers.
        #expect(try BusyboxProject.linesInTheStore(project, containing: "token is $(cat /run/secrets/file)") > 0)
        #expect(try BusyboxProject.linesInTheStore(project, containing: "BusyBox v") > 0)
        // verify rebuilds with the same secrets and finds the same bytes.
        let verify = try BakeCLI.run(["verify", "app", "--secret", "id=api,env=API_TOKEN", "--secret", "id=file,src=\(dir.at("token.txt"))"],
                                     in: project, environment: ["API_TOKEN": value])
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        #expect(!verify.stdout.contains(value) && !verify.stderr.contains(value))
        // Without them the rebuild stops for bad input, and so does verify (exit 2).
        let unsecret = try BakeCLI.run(["verify", "app"], in: project)
        #expect(unsecret.status == 2, "\(unsecret.stderr)")
        #expect(unsecret.stderr.contains("secret 'api' is not given") && unsecret.stderr.contains("stopped for bad input"), "\(unsecret.stderr)")
        // A secret file that does not exist is bad input.
        let missing = try BakeCLI.run(["build", "app", "--secret", "id=api,src=/nonexistent", "--secret", "id=file,env=NOPE"], in: project)
        #expect(missing.status == 2)
        #expect(missing.stderr.hasPrefix("bake: "), "\(missing.stderr)")
    }

    /// A pull request's build has no secrets: the steps that list them come from the cache,
    /// so it needs none. Only a step that will run demands its secret, and plan says which.
    @Test func aCachedStepNeedsNoSecretAndPlanSaysWhichStepsDo() throws {
        let dir = TemporaryDirectory()
        let project = dir.at("p")
        let stage = """
            from: tools
            steps:
              - run: echo pre >/pre
              - run: wc -c < /run/secrets/api > /api-length
                secrets: [api]
              - run: echo one > /after

            """
        try BusyboxProject.write(at: project, images: ["app": stage])
        let built = try BakeCLI.run(["build", "app", "--secret", "id=api,env=API_TOKEN"], in: project, environment: ["API_TOKEN": "value"])
        #expect(built.status == 0, "\(built.stderr)")
        // Without the secret: the step that lists it is a hit, a later changed step runs.
        try Fixture.write(project + "/images/app/stage.yaml", stage.replacingOccurrences(of: "echo one", with: "echo two"))
        let plan = try BakeCLI.run(["plan", "app"], in: project)
        #expect(plan.stdout.contains("2. HIT    run wc -c < /run/secrets/api > /api-length  ["), "\(plan.stdout)")
        #expect(!plan.stdout.contains("need"))
        let steps = try BakeCLI.build(["app"], in: project)
        #expect(steps["app/2"] == "cached" && steps["app/3"] == "built", "\(steps)")
        // A step before it is rebuilt into the same bytes: the secret step is a hit after all
        // (plan can only say it may need its secret).
        try Fixture.write(project + "/images/app/stage.yaml", stage.replacingOccurrences(of: "echo pre >/pre", with: "echo pre > /pre"))
        #expect(try BakeCLI.run(["plan", "app"], in: project).stdout.contains("may need secret api"))
        let same = try BakeCLI.build(["app"], in: project)
        #expect(same["app/1"] == "built" && same["app/2"] == "cached", "\(same)")
        // A step that will run still demands it, before anything is built, and plan says so.
        try Fixture.write(project + "/images/app/stage.yaml", stage.replacingOccurrences(of: "wc -c", with: "wc -l"))
        let needs = try BakeCLI.run(["plan", "app"], in: project)
        #expect(needs.stdout.contains("2. BUILD  run wc -l < /run/secrets/api > /api-length  (") && needs.stdout.contains("needs secret api"),
                "\(needs.stdout)")
        let before = try BakeCLI.run(["inspect", "app", "--json"], in: project).stdout
        let refused = try BakeCLI.run(["build", "app"], in: project)
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("images/app/stage.yaml:4:5: step 2 of app: secret 'api' is not given"), "\(refused.stderr)")
        #expect(try BakeCLI.run(["inspect", "app", "--json"], in: project).stdout == before)
        // --no-cache runs every step: the secret is needed again.
        try Fixture.write(project + "/images/app/stage.yaml", stage)
        #expect(try BakeCLI.run(["build", "app"], in: project).status == 0)
        #expect(try BakeCLI.run(["build", "--no-cache", "app"], in: project).status == 2)
    }

    /// `--progress json` reports each check's result and ends a failed build with an error
    /// event (image, step or check, message, exit codes), not with the last output line.
    @Test func jsonProgressHasCheckResultsAndAnErrorEvent() throws {
        let dir = TemporaryDirectory()
        let project = dir.at("p")
        let stage = """
            from: tools
            steps:
              - run: echo v1 > /version
            checks:
              - run: grep -q v1 /version
              - run: "true"

            """
        try BusyboxProject.write(at: project, images: ["app": stage])
        func events(_ arguments: [String]) throws -> (CommandResult, [[String: Any]]) {
            let result = try BakeCLI.run(["--progress", "json", "build"] + arguments, in: project)
            return (result, BakeCLI.events(result.stdout))
        }
        let (good, passed) = try events(["app"])
        #expect(good.status == 0, "\(good.stderr)")
        let checks = passed.filter { $0["event"] as? String == "check" }
        #expect(checks.map { "\($0["image"]!)/\($0["check"]!)/\($0["of"]!)/\($0["status"]!)" } == ["app/1/2/passed", "app/2/2/passed"])
        #expect(passed.last?["event"] as? String == "done")
        let (_, again) = try events(["app"])
        #expect(again.filter { $0["event"] as? String == "check" }.map { $0["status"] as? String } == ["cached", "cached"])

        // A failing check: its result, then the error as the last event.
        try Fixture.write(project + "/images/app/stage.yaml", stage.replacingOccurrences(of: "echo v1", with: "echo v2"))
        let (bad, failed) = try events(["app"])
        #expect(bad.status == 1)
        let check = try #require(failed.last { $0["event"] as? String == "check" })
        #expect(check["status"] as? String == "failed" && check["commandExitCode"] as? Int == 1 && check["check"] as? Int == 1)
        let error = try #require(failed.last)
        #expect(error["event"] as? String == "error", "\(failed)")
        #expect(error["image"] as? String == "app" && error["check"] as? Int == 1 && error["step"] == nil)
        #expect(error["exitCode"] as? Int == 1 && error["commandExitCode"] as? Int == 1)
        #expect((error["message"] as? String)?.contains("check 1 of app failed: its command exited with status 1") == true, "\(error)")

        // A failing step names its step; bad input has exit code 2.
        try Fixture.write(project + "/images/app/stage.yaml", stage.replacingOccurrences(of: "echo v1 > /version", with: "exit 3"))
        let (_, stepFailed) = try events(["app"])
        #expect(stepFailed.last?["event"] as? String == "error" && stepFailed.last?["step"] as? Int == 1, "\(stepFailed)")
        #expect(stepFailed.last?["commandExitCode"] as? Int == 3)
        let (_, unknown) = try events(["nothing"])
        #expect(unknown.last?["event"] as? String == "error" && unknown.last?["exitCode"] as? Int == 2 && unknown.last?["image"] == nil,
                "\(unknown)")
    }

    @Test func checksRunInTheFinishedImageAndAFailingCheckKeepsTheNameOnTheOldImage() throws {
        let dir = TemporaryDirectory("bake-run")
        let project = dir.at("p")
        let stage = """
            from: tools
            steps:
              - run: echo v1 > /version
            checks:
              - run: grep -q v1 /version && touch /check-was-here
              - run: test "$(id -u)" = 33
                user: web

            """
        try BusyboxProject.write(at: project, images: ["app": stage])
        let good = try BakeCLI.run(["--progress", "plain", "build", "app"], in: project)
        #expect(good.status == 0, "\(good.stderr)")
        #expect(good.stderr.contains("app check [1/2]"))
        let first = BakeCLI.digests(good.stdout)["app"]
        // Changes a check makes are discarded.
        #expect(try BakeCLI.run(["run", "app", "--", "test", "-e", "/check-was-here"], in: project).status == 1)
        try Fixture.write(project + "/images/app/stage.yaml", stage.replacingOccurrences(of: "echo v1", with: "echo v2"))
        let bad = try BakeCLI.run(["--progress", "plain", "build", "app"], in: project)
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("images/app/stage.yaml:5:5: check 1 of app failed: its command exited with status 1"), "\(bad.stderr)")
        let inspect = try BakeCLI.run(["inspect", "app", "--json"], in: project)
        #expect(first != nil && inspect.stdout.contains(first ?? "none"), "the name still points at the image that passed")
    }

    /// A check runs the image as it will run: with the PATH its config sets (a virtualenv's
    /// bin first), as `bake run` does; steps keep the fixed PATH.
    @Test func checksAndBakeRunUseTheImagesPath() throws {
        let dir = TemporaryDirectory()
        let project = dir.at("p")
        try BusyboxProject.write(at: project, images: ["venv": """
            from: tools
            steps:
              - run: |
                  mkdir -p /opt/venv/bin
                  printf '#!/bin/sh\\necho "venv python $*"\\n' > /opt/venv/bin/python
                  chmod 0755 /opt/venv/bin/python
                  echo "$PATH" > /step-path
            config:
              env: {PATH: "/opt/venv/bin:/bin"}
            checks:
              - run: python -c 1 && test "$PATH" = /opt/venv/bin:/bin

            """])
        let built = try BakeCLI.run(["build", "venv"], in: project)
        #expect(built.status == 0, "\(built.stderr)")
        let run = try BakeCLI.run(["run", "venv", "--", "python", "-c", "1"], in: project)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout == "venv python -c 1\n")
        let step = try BakeCLI.run(["run", "venv", "--", "cat", "/step-path"], in: project)
        #expect(step.stdout == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n")
        // inspect shows the multi-line step as one line of its layer table.
        let inspect = try BakeCLI.run(["inspect", "venv"], in: project)
        let layers = inspect.stdout.split(separator: "\n").filter { $0.hasPrefix("    ") }
        #expect(layers.count == 2, "\(inspect.stdout)")
        #expect(layers.last?.hasSuffix("mkdir -p /opt/venv/bin (+3 lines)") == true, "\(inspect.stdout)")
        #expect(layers.allSatisfy { $0.count <= 80 } && !inspect.stdout.contains("chmod"), "\(inspect.stdout)")
    }

    @Test func bakeRunRunsTheImagesCommandWithItsConfigAndDiscardsChanges() throws {
        let dir = TemporaryDirectory("bake-run")
        let project = dir.at("p")
        try BusyboxProject.write(at: project, images: ["site": Self.changes])
        #expect(try BakeCLI.run(["build", "site"], in: project).status == 0)
        let run = try BakeCLI.run(["run", "site"], in: project)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout == "hi from /srv/www as 33\n")
        let env = try BakeCLI.run(["run", "site", "--env", "GREETING=hello", "--", "sh", "-c", "echo $GREETING; touch /srv/www/x; exit 7"], in: project)
        #expect(env.status == 7)
        #expect(env.stdout == "hello\n")
        #expect(try BakeCLI.run(["run", "site", "--", "test", "-e", "/srv/www/x"], in: project).status == 1)
        // The image's user (33) may open its stdout and stderr again, as under Docker (nginx
        // does, for `access_log /dev/stdout`): they reach bake's through pipes it owns.
        let reopened = try BakeCLI.run(["run", "site", "--", "sh", "-c", "echo out > /dev/stdout; echo err > /dev/stderr; exec cat"], in: project,
                                       stdin: "from stdin\n")
        #expect(reopened.status == 0, "\(reopened.stderr)")
        #expect(reopened.stdout == "out\nfrom stdin\n")
        #expect(reopened.stderr == "err\n")
        let missing = try BakeCLI.run(["run", "site", "--", "no-such-program"], in: project)
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("no-such-program"), "\(missing.stderr)")
        #expect(try BakeCLI.run(["run", "nothing"], in: project).status == 2)
    }

    @Test func ctrlCStopsBakeRunCleanly() throws {
        let dir = TemporaryDirectory("bake-run")
        let project = dir.at("p")
        try BusyboxProject.write(at: project, images: ["site": Self.changes])
        #expect(try BakeCLI.run(["build", "site"], in: project).status == 0)
        // (The sleep's argument is computed, so that only the sleep's command line, not
        // bake's, holds "sleep 31405".)
        let run = try Self.start(["run", "site", "--", "sh", "-c", "sleep 31404 & sleep $((31400 + 5))"], in: project)
        try Self.waitFor { !HostState.processes(containing: "sleep 31405").isEmpty }
        run.interrupt()
        run.waitUntilExit()
        #expect(run.terminationReason == .exit && run.terminationStatus == 130, "\(run.terminationReason) \(run.terminationStatus)")
        #expect(HostState.processes(containing: "sleep 31404").isEmpty && HostState.processes(containing: "sleep 31405").isEmpty)
        #expect(HostState.mounts(under: dir.path).isEmpty)
    }

    /// Starts bake in the background, its output discarded.
    static func start(_ arguments: [String], in directory: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: BakeCLI.binary)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.environment = BakeCLI.baseEnvironment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Polls `condition` for up to 60 s.
    static func waitFor(_ condition: () -> Bool) throws {
        for _ in 0..<600 {
            if condition() { return }
            usleep(100_000)
        }
        throw FixtureError("timed out waiting")
    }
}
