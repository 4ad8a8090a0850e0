import Foundation
import Testing
import TestSupport

/// Inputs made to wedge, hang or exhaust bake (issue 14): each is refused with exit 2 and
/// one sentence naming it, nothing is left behind, and the store keeps working.
@Suite(.enabled(if: Host.canRun(tools: ["python3"])))
struct HostileInputTests {
    /// Runs a Python script with `arguments` (hostile files are made by the tests, with
    /// Python's tarfile and raw headers).
    static func python(_ script: String, _ arguments: [String]) throws {
        let result = try Command.run(["python3", "-c", script] + arguments)
        guard result.status == 0 else { throw FixtureError("python3: \(result.stderr)") }
    }

    /// A project with `images/evil` on a rootfs tarball and `images/ok` (one file on scratch).
    static func rootfsProject(_ project: String) throws {
        try Fixture.write(project + "/images/evil/stage.yaml", "from:\n  rootfs: evil.tar\n")
        try Fixture.write(project + "/images/ok/stage.yaml", "from: scratch\nsteps:\n  - copy: hello\n    to: /hello\n")
        try Fixture.write(project + "/images/ok/hello", "hello\n")
    }

    /// The last line of stderr: the error, after any progress lines.
    static func lastLine(_ text: String) -> String {
        text.split(separator: "\n").last.map(String.init) ?? ""
    }

    static func temporaryFiles(_ project: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: project + "/.bake/tmp")) ?? []
    }

    // MARK: - 1. long paths

    @Test func aPathLongerThanLinuxAllowsIsRefusedAndLeavesNothingBehind() throws {
        let dir = TemporaryDirectory("bake-hostile")
        let project = dir.at("p")
        try Self.rootfsProject(project)
        try Self.python("""
            import io, sys, tarfile
            with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as tar:
                name = "/".join(["abcde"] * 1000)   # 5999 bytes: legal PAX, more than PATH_MAX
                info = tarfile.TarInfo(name); info.size = 2
                tar.addfile(info, io.BytesIO(b"x\\n"))
            """, [project + "/images/evil/evil.tar"])
        let refused = try BakeCLI.run(["build", "evil"], in: project)
        #expect(refused.status == 2, "\(refused.stderr)")
        #expect(Self.lastLine(refused.stderr) == "bake: images/evil/stage.yaml:2:3: the root file system tarball evil.tar is refused: "
            + "refusing archive entry 'abcde/abcde/abcde/abcde/abcde/abcde/abcde/abcde/abcde/abcde/abcd... (5999 bytes)': "
            + "its path is 6000 bytes long; Linux paths are at most 4095", "\(refused.stderr)")
        #expect(Self.temporaryFiles(project).isEmpty, "\(Self.temporaryFiles(project))")
        // The store still works for everything else.
        let ok = try BakeCLI.run(["build", "ok"], in: project)
        #expect(ok.status == 0, "\(ok.stderr)")
        let gc = try BakeCLI.run(["gc"], in: project)
        #expect(gc.status == 0, "\(gc.stderr)")
        let fsck = try BakeCLI.run(["fsck"], in: project)
        #expect(fsck.status == 0, "\(fsck.stdout) \(fsck.stderr)")
    }

    @Test func aLeftoverTooDeepToRemoveByPathStopsNoLaterCommand() throws {
        let dir = TemporaryDirectory("bake-hostile")
        let project = dir.at("p")
        try Self.rootfsProject(project)
        #expect(try BakeCLI.run(["build", "ok"], in: project).status == 0)
        // What a killed import of a deep tarball leaves: a tree whose paths are ~10 KB long.
        try Self.python("""
            import os, sys
            fd = os.open(sys.argv[1], os.O_RDONLY)
            os.mkdir("rootfs-leftover", dir_fd=fd)
            for level in range(1000):
                child = os.open("rootfs-leftover" if level == 0 else "d" * 9, os.O_RDONLY, dir_fd=fd)
                os.close(fd); fd = child
                os.mkdir("d" * 9, 0o555 if level == 500 else 0o755, dir_fd=fd)
            open(os.open("file", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "w").close()
            """, [project + "/.bake/tmp"])
        let cached = try BakeCLI.run(["build", "ok"], in: project)
        #expect(cached.status == 0, "\(cached.stderr)")
        #expect(Self.temporaryFiles(project).isEmpty, "\(Self.temporaryFiles(project))")
        let gc = try BakeCLI.run(["gc"], in: project)
        #expect(gc.status == 0, "\(gc.stderr)")
    }

    // MARK: - 5. PAX headers

    @Test func stackedPAXHeadersAreRefusedInBoundedMemory() throws {
        let dir = TemporaryDirectory("bake-hostile")
        let project = dir.at("p")
        try Self.rootfsProject(project)
        // 48 extended headers of 16 MB each before one entry: 750 KB of gzip that held 793 MB.
        try Fixture.write(project + "/images/evil/stage.yaml", "from:\n  rootfs: evil.tar.gz\n")
        try Self.python("""
            import gzip, sys
            def header(name, flag, size):
                block = bytearray(512)
                block[0:len(name)] = name
                for offset, width, value in ((100, 8, 0o644), (108, 8, 0), (116, 8, 0), (124, 12, size), (136, 12, 0)):
                    block[offset:offset + width] = b"%0*o\\0" % (width - 1, value)
                block[156:157] = flag
                block[257:265] = b"ustar\\x0000"
                block[148:156] = b" " * 8
                block[148:156] = b"%06o\\0 " % sum(block)
                return bytes(block)
            value = b"a" * (16 * 1000 * 1000)
            with gzip.open(sys.argv[1], "wb", compresslevel=9) as out:
                for index in range(48):
                    body = b"bake.k%02d=" % index + value + b"\\n"
                    length = len(body) + 1
                    while len(b"%d " % length) + len(body) != length:
                        length = len(b"%d " % length) + len(body)
                    record = b"%d " % length + body
                    out.write(header(b"PaxHeaders/big", b"x", len(record)))
                    out.write(record + b"\\0" * ((512 - len(record) % 512) % 512))
                out.write(header(b"etc/victim", b"0", 0))
                out.write(b"\\0" * 1024)
            """, [project + "/images/evil/evil.tar.gz"])
        let (refused, peak) = try Command.runMeasuringMemory(
            [BakeCLI.binary, "build", "evil"], in: project, environment: BakeCLI.baseEnvironment)
        #expect(refused.status == 2, "\(refused.stderr)")
        #expect(Self.lastLine(refused.stderr) == "bake: images/evil/stage.yaml:2:3: the root file system tarball evil.tar.gz is refused: "
            + "refusing archive entry 'etc/victim': its extended headers hold 15 MiB; bake accepts at most 1 MiB of them per entry",
            "\(refused.stderr)")
        #expect(peak < 100 * 1024, "bake's peak RSS was \(peak / 1024) MiB")
        #expect(Self.temporaryFiles(project).isEmpty)
    }

    // MARK: - 2. named pipes and devices

    /// Runs bake under a watchdog: a bake that would block forever is killed (status 124)
    /// instead of hanging the suite. No test asserts a time; the limit is far beyond any run.
    static func runGuarded(_ arguments: [String], in project: String) throws -> CommandResult {
        try Command.run(["timeout", "-s", "KILL", "300", BakeCLI.binary] + arguments, in: project, environment: BakeCLI.baseEnvironment)
    }

    @Test func aStageFileThatIsANamedPipeIsRefusedNotWaitedOn() throws {
        let dir = TemporaryDirectory("bake-hostile")
        let project = dir.at("p")
        try Self.rootfsProject(project)
        try Fixture.mkdir(project + "/images/x")
        #expect(mkfifo(project + "/images/x/stage.yaml", 0o644) == 0)
        for command in [["build", "ok"], ["plan"]] {
            let result = try Self.runGuarded(command, in: project)
            #expect(result.status == 2, "\(command): \(result.status) \(result.stderr)")
            #expect(result.stderr == "bake: images/x/stage.yaml:1:1: the stage file is a named pipe, not a regular file\n", "\(result.stderr)")
        }
    }

    @Test func aLockFileThatIsANamedPipeIsRefused() throws {
        let dir = TemporaryDirectory("bake-hostile")
        let project = dir.at("p")
        try Self.rootfsProject(project)
        #expect(mkfifo(project + "/bake.lock", 0o644) == 0)
        let result = try Self.runGuarded(["build", "ok"], in: project)
        #expect(result.status == 2, "\(result.status) \(result.stderr)")
        #expect(result.stderr == "bake: bake.lock is a named pipe, not a regular file\n", "\(result.stderr)")
    }

    @Test(arguments: ["index.json", "blob"])
    func anOCILayoutBaseWithANamedPipeIsRefusedWithoutHoldingTheStore(_ which: String) throws {
        let dir = TemporaryDirectory("bake-hostile")
        let project = dir.at("p")
        try Self.rootfsProject(project)
        try Fixture.write(project + "/images/evil/stage.yaml", "from:\n  oci: layout\n  ref: base\n")
        // A small valid layout, then one of its files replaced by a named pipe.
        try OCILayoutFixture.write(at: project + "/images/evil/layout", ref: "base")
        let victim = which == "index.json" ? project + "/images/evil/layout/index.json"
            : project + "/images/evil/layout/blobs/sha256/" + (try OCILayoutFixture.layerDigest(project + "/images/evil/layout"))
        unlink(victim)
        #expect(mkfifo(victim, 0o644) == 0)
        let result = try Self.runGuarded(["build", "evil"], in: project)
        #expect(result.status == 2, "\(result.status) \(result.stderr)")
        let expected = which == "index.json"
            ? "bake: images/evil/stage.yaml:2:3: the OCI layout layout cannot be read: its index.json is a named pipe, not a regular file"
            : "bake: images/evil/stage.yaml:2:3: layer sha256:\(try OCILayoutFixture.layerDigest(project + "/images/evil/layout")) of 'base' in layout is refused: "
                + "\(victim) is a named pipe, not a regular file"
        #expect(Self.lastLine(result.stderr) == expected, "\(result.stderr)")
        // The store is not held: another command runs at once.
        #expect(try Self.runGuarded(["build", "ok"], in: project).status == 0)
    }

    @Test func aCopySourceThatIsANamedPipeIsBadInput() throws {
        let dir = TemporaryDirectory("bake-hostile")
        let project = dir.at("p")
        try Fixture.write(project + "/images/x/stage.yaml", "from: scratch\nsteps:\n  - copy: pipe\n    to: /pipe\n")
        #expect(mkfifo(project + "/images/x/pipe", 0o644) == 0)
        for command in [["build", "x"], ["plan", "x"]] {
            let result = try Self.runGuarded(command, in: project)
            #expect(result.status == 2, "\(command): \(result.status) \(result.stderr)")
            #expect(Self.lastLine(result.stderr) == "bake: images/x/stage.yaml:3:11: copy source 'pipe' is a named pipe; only files, folders and symlinks can be copied",
                    "\(result.stderr)")
        }
    }

    @Test(.enabled(if: Host.canRun(root: true)))
    func aCopySourceThatIsADeviceIsBadInput() throws {
        let dir = TemporaryDirectory("bake-hostile")
        let project = dir.at("p")
        try Fixture.write(project + "/images/x/stage.yaml", "from: scratch\nsteps:\n  - copy: zero\n    to: /zero\n")
        #expect(mknod(project + "/images/x/zero", S_IFCHR | 0o666, dev_t((1 << 8) | 3)) == 0)
        let result = try Self.runGuarded(["build", "x"], in: project)
        #expect(result.status == 2, "\(result.status) \(result.stderr)")
        #expect(Self.lastLine(result.stderr) == "bake: images/x/stage.yaml:3:11: copy source 'zero' is a character device; only files, folders and symlinks can be copied",
                "\(result.stderr)")
    }

    @Test func aSecretGivenTwiceIsRefusedNotLastWins() throws {
        let dir = TemporaryDirectory("bake-hostile")
        let project = dir.at("p")
        try Self.rootfsProject(project)
        let result = try BakeCLI.run(["build", "ok", "--secret", "id=token,env=ONE", "--secret", "id=token,env=TWO"], in: project,
                                     environment: ["ONE": "1", "TWO": "2"])
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr == "bake: --secret id=token,env=TWO: secret 'token' is given twice; give each secret once\n", "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: project + "/.bake"))
    }

    @Test func aSecretFileThatIsANamedPipeIsRefused() throws {
        let dir = TemporaryDirectory("bake-hostile")
        let project = dir.at("p")
        try Self.rootfsProject(project)
        #expect(mkfifo(dir.at("token"), 0o600) == 0)
        let result = try Self.runGuarded(["build", "ok", "--secret", "id=token,src=\(dir.at("token"))"], in: project)
        #expect(result.status == 2, "\(result.status) \(result.stderr)")
        #expect(result.stderr == "bake: --secret id=token,src=\(dir.at("token")): \(dir.at("token")) is a named pipe, not a regular file\n", "\(result.stderr)")
    }
}

extension HostileInputTests {
    // MARK: - 6 and 11. OCI layouts that lie or are not JSON

    @Test(arguments: [
        ("index-not-json", "the index.json of the OCI layout layout is not valid OCI JSON: "),
        ("index-empty", "the index.json of the OCI layout layout is not valid OCI JSON: "),
        ("index-array", "the index.json of the OCI layout layout is not valid OCI JSON: "),
        ("index-deeply-nested", "the index.json of the OCI layout layout is not valid OCI JSON: "),
        ("index-huge", "the OCI layout layout cannot be read: its index.json is larger than 4 MiB, more than bake reads"),
        ("config-without-rootfs", "of 'base' in layout is not valid OCI JSON: the document: missing key 'rootfs'"),
        ("size-as-string", "of 'base' in layout is not valid OCI JSON: .layers[0].size: "),
        ("digest-traversal", "of 'base' in layout is not valid OCI JSON: 'sha256:../../etc/passwd' is not a valid digest"),
        ("sha512-layer", "is a sha512 digest, which bake does not support (only sha256)"),
        ("size-huge", "of 'base' in layout is described as 4611686018427387904 bytes, but its blob has "),
        ("size-negative", "of 'base' in layout is described as -1 bytes, but its blob has "),
    ])
    func anOCILayoutBaseThatIsNotValidIsBadInputAndTouchesNothing(_ mutation: String, _ expected: String) throws {
        let dir = TemporaryDirectory("bake-hostile")
        let project = dir.at("p")
        try Self.rootfsProject(project)
        try Fixture.write(project + "/images/evil/stage.yaml", "from:\n  oci: layout\n  ref: base\n")
        try OCILayoutFixture.write(at: project + "/images/evil/layout", ref: "base", mutation: mutation)
        let result = try Self.runGuarded(["build", "evil"], in: project)
        #expect(result.status == 2, "\(result.status) \(result.stderr)")
        let error = Self.lastLine(result.stderr)
        #expect(error.hasPrefix("bake: images/evil/stage.yaml:2:3: "), "\(result.stderr)")
        #expect(error.contains(expected), "\(result.stderr)")
        #expect(error.count < 400, "not one sentence: \(error.count) characters")
        let blobs = (try? FileManager.default.contentsOfDirectory(atPath: project + "/.bake/oci/blobs/sha256")) ?? []
        #expect(blobs.isEmpty, "\(blobs)")
    }
}

/// A one-layer OCI image layout written by the test itself (no bake involved).
enum OCILayoutFixture {
    /// `mutation` names one way to break the layout (see the script); "" keeps it valid.
    static func write(at layout: String, ref: String, mutation: String = "") throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/hostile_oci_layout.py").path
        let result = try Command.run(["python3", script, layout, ref, mutation])
        guard result.status == 0 else { throw FixtureError("hostile_oci_layout.py: \(result.stderr)") }
    }

    /// The hex digest of the layout's one layer.
    static func layerDigest(_ layout: String) throws -> String {
        try Fixture.read(layout + "/layer-digest")
    }
}

/// Layers that repeat (issue 14, item 3): each unpacked folder reaches the overlay once.
@Suite(.enabled(if: Host.canRun(tools: ["busybox"], root: true)))
struct RepeatedLayerTests {
    @Test(arguments: [
        // Three steps that change nothing give three identical (empty) layers.
        ("runs", "  - run: \"true\"\n  - run: \"true\"\n  - run: \"true\"\n"),
        // The same file copied twice gives two identical layers.
        ("copies", "  - copy: hello\n    to: /hello\n  - copy: hello\n    to: /hello\n"),
        // Copied, removed, copied again: the top copy must win over the removal below it.
        ("copy-remove-copy", "  - copy: hello\n    to: /hello\n  - remove: [/hello]\n  - copy: hello\n    to: /hello\n"),
        // A layer between the two copies: a file it wrote, copied up unchanged by the run step,
        // is compared with that layer's copy (layer indexes count the repeated layer twice).
        ("copy-other-copy", "  - copy: hello\n    to: /hello\n  - copy: hello\n    to: /other\n  - copy: hello\n    to: /hello\n"),
    ])
    func aLayerThatRepeatsStillBuildsRunsAndChecks(_ trigger: String, _ steps: String) throws {
        let dir = TemporaryDirectory("bake-repeat")
        let project = dir.at("p")
        try BusyboxProject.write(at: project, images: ["twice": """
            from: tools
            steps:
            \(steps)  - run: echo after > /after && cat /etc/old >> /after && if [ -e /hello ]; then cat /hello >> /after; fi && if [ -e /other ]; then chmod 644 /other; fi
            checks:
              - run: grep -q after /after && grep -q old /after
            config:
              cmd: [/bin/cat, /after]

            """])
        try Fixture.write(project + "/images/twice/hello", "hello\n")
        let build = try BakeCLI.run(["build", "twice"], in: project)
        #expect(build.status == 0, "\(trigger): \(build.stderr)")
        let run = try BakeCLI.run(["run", "twice"], in: project)
        let expected = trigger == "runs" ? "after\nold\n" : "after\nold\nhello\n"
        #expect(run.status == 0 && run.stdout == expected, "\(trigger): \(run.stdout) \(run.stderr)")
        // The layers do repeat, and the image keeps them in order.
        let inspect = try BakeCLI.run(["inspect", "twice", "--json"], in: project)
        let layers = try BaseImportTests.layerDigests(inspect.stdout)
        #expect(Set(layers).count < layers.count, "\(trigger): \(layers)")
        // The run step's layer holds what it changed, not what it only copied up.
        let runLayer = try #require(layers.last)
        let listing = try Command.run(["sh", "-c", "gzip -dc < \"$0\" | tar -tf -", project + "/.bake/oci/blobs/sha256/" + runLayer.dropFirst(7)])
        #expect(listing.stdout.split(separator: "\n").sorted() == ["after"], "\(trigger): \(listing.stdout)")
    }
}

/// Unpacked layers are checked against their stamp before each use (issue 14, item 7).
@Suite(.enabled(if: Host.canRun(tools: ["busybox"], root: true)))
struct UnpackedLayerStampTests {
    static let site = "from: tools\nsteps:\n  - run: cat /etc/old > /copied\n"

    /// The unpacked folder of the tools image's one layer.
    static func toolsFolder(_ project: String) throws -> String {
        let inspect = try BakeCLI.run(["inspect", "tools", "--json"], in: project)
        let object = try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any]
        let layers = object?["layers"] as? [[String: Any]] ?? []
        let diffID = try #require(layers.first?["diffID"] as? String)
        return project + "/.bake/unpacked/" + diffID.dropFirst("sha256:".count)
    }

    @Test(arguments: ["edit", "delete", "add", "replace-with-file"])
    func aChangedUnpackedLayerIsUnpackedAgainAndSaidSo(_ change: String) throws {
        let dir = TemporaryDirectory("bake-unpacked")
        let project = dir.at("p")
        try BusyboxProject.write(at: project, images: ["site": Self.site])
        let first = try BakeCLI.run(["build", "site"], in: project)
        #expect(first.status == 0, "\(first.stderr)")
        let folder = try Self.toolsFolder(project)
        switch change {
        case "edit": try Fixture.write(folder + "/etc/old", "tampered\n")
        case "delete": try FileManager.default.removeItem(atPath: folder + "/etc/old")
        case "add": try Fixture.write(folder + "/etc/extra", "extra\n")
        default:
            try FileManager.default.removeItem(atPath: folder)
            try Fixture.write(folder, "not a folder")
        }
        let again = try BakeCLI.run(["build", "--no-cache", "site"], in: project)
        #expect(again.status == 0, "\(change): \(again.stderr)")
        #expect(BakeCLI.digests(again.stdout) == BakeCLI.digests(first.stdout), "\(change): the rebuild used the changed folder")
        #expect(again.stderr.contains("bake: warning: unpacked layer "), "\(change): \(again.stderr)")
        #expect(again.stderr.contains("; unpacking it again"), "\(change): \(again.stderr)")
        #expect(try Fixture.read(folder + "/etc/old") == "old\n")
        // Once unpacked again, it is trusted again: no more warnings.
        let third = try BakeCLI.run(["build", "--no-cache", "site"], in: project)
        #expect(!third.stderr.contains("warning"), "\(third.stderr)")
    }

    @Test func fsckComparesEveryUnpackedLayerWithItsStampAndRepairMovesItAway() throws {
        let dir = TemporaryDirectory("bake-unpacked")
        let project = dir.at("p")
        try BusyboxProject.write(at: project, images: ["site": Self.site])
        let first = try BakeCLI.run(["build", "site"], in: project)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try BakeCLI.run(["fsck"], in: project).stdout.contains(", 1 unpacked layers"))
        let folder = try Self.toolsFolder(project)
        // Same size, same times: only the content digest can tell.
        let old = folder + "/etc/old"
        var times = stat()
        stat(old, &times)
        try Fixture.write(old, "OLD\n")
        var restored = [times.st_atim, times.st_mtim]
        utimensat(AT_FDCWD, old, &restored, 0)
        let fsck = try BakeCLI.run(["fsck"], in: project)
        #expect(fsck.status == 1)
        #expect(fsck.stderr.contains("bake: unpacked layer ") && fsck.stderr.contains(") was changed since bake unpacked it "
            + "(bake fsck --repair moves it to lost+found; the next step that needs it unpacks it again)"), "\(fsck.stderr)")
        let repair = try BakeCLI.run(["fsck", "--repair"], in: project)
        #expect(repair.status == 0, "\(repair.stdout) \(repair.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder))
        let again = try BakeCLI.run(["build", "--no-cache", "site"], in: project)
        #expect(again.status == 0 && !again.stderr.contains("warning"), "\(again.stderr)")
        #expect(BakeCLI.digests(again.stdout) == BakeCLI.digests(first.stdout))
        // gc empties lost+found.
        #expect(FileManager.default.fileExists(atPath: project + "/.bake/lost+found"))
        let gc = try BakeCLI.run(["gc"], in: project)
        #expect(gc.status == 0, "\(gc.stderr)")
        #expect(!FileManager.default.fileExists(atPath: project + "/.bake/lost+found"))
    }

    @Test func aCopiedStoreKeepsItsUnpackedLayersWithoutUnpackingThemAgain() throws {
        let dir = TemporaryDirectory("bake-unpacked")
        let project = dir.at("p")
        try BusyboxProject.write(at: project, images: ["site": Self.site])
        let first = try BakeCLI.run(["build", "site"], in: project)
        #expect(first.status == 0, "\(first.stderr)")
        // A copy keeps times, modes and contents; inodes and ctimes are new.
        try Fixture.copyTree(project + "/.bake", to: dir.at("copy"))
        let stamp = try Self.toolsFolder(project).replacingOccurrences(of: project + "/.bake", with: dir.at("copy")) + ".stamp"
        let before = try Fixture.read(stamp)
        let again = try BakeCLI.run(["--store", dir.at("copy"), "build", "--no-cache", "site"], in: project)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(!again.stderr.contains("warning"), "\(again.stderr)")
        #expect(BakeCLI.digests(again.stdout) == BakeCLI.digests(first.stdout))
        #expect(try Fixture.read(stamp) != before, "the stamp takes the copy's metadata")
    }
}

/// An export appears only when complete, and what a killed one left is removed by the next
/// (issue 14, item 8).
@Suite struct ExportDebrisTests {
    static func staged(_ folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasPrefix(".bake-tmp") }.sorted()
    }

    /// Leaves what a killed export leaves: an unlocked staged file and folder.
    static func plantDebris(in folder: String) throws {
        try Fixture.write(folder + "/.bake-tmp-AbC123", [UInt8](repeating: 1, count: 4096))
        try Fixture.write(folder + "/.bake-tmp-DeF456/blobs/sha256/partial", "half a layout")
    }

    @Test(arguments: ["oci", "oci-archive", "docker-archive", "rootfs"])
    func theNextExportRemovesWhatAKilledOneLeft(_ format: String) throws {
        let dir = TemporaryDirectory("bake-export")
        let project = dir.at("p")
        try BakeCLI.toyProject(at: project)
        #expect(try BakeCLI.run(["build", "app"], in: project).status == 0)
        let out = dir.at("out")
        try Fixture.mkdir(out)
        try Self.plantDebris(in: out)
        // A staged file a live export holds is not debris.
        try Fixture.write(out + "/.bake-tmp-Live99", "being written")
        let live = open(out + "/.bake-tmp-Live99", O_RDONLY)
        #expect(flock(live, LOCK_EX) == 0)
        defer { close(live) }
        let output = out + "/image." + (format == "oci" || format == "rootfs" ? format : "tar")
        let export = try BakeCLI.run(["export", "app", "--format", format, "--output", output], in: project)
        #expect(export.status == 0, "\(export.stderr)")
        #expect(Self.staged(out) == [".bake-tmp-Live99"], "\(Self.staged(out))")
        if format == "oci" {
            // Adding to the layout again, after a killed export left debris inside it.
            try Self.plantDebris(in: output + "/blobs/sha256")
            try Self.plantDebris(in: output)
            let again = try BakeCLI.run(["export", "app-base", "--format", "oci", "--output", output], in: project)
            #expect(again.status == 0, "\(again.stderr)")
            #expect(Self.staged(output).isEmpty && Self.staged(output + "/blobs/sha256").isEmpty,
                    "\(Self.staged(output)) \(Self.staged(output + "/blobs/sha256"))")
        }
    }

    @Test func anExportKilledAtAnyMomentLeavesNoHalfOutput() throws {
        let dir = TemporaryDirectory("bake-export")
        let project = dir.at("p")
        try StoreSafetyTests.heavyProject(at: project)
        #expect(try BakeCLI.run(["build", "top"], in: project).status == 0)
        for (attempt, delay) in [0.0, 0.005, 0.01, 0.02, 0.04, 0.08].enumerated() {
            for format in ["oci", "rootfs", "oci-archive"] {
                let output = dir.at("out-\(format)-\(attempt)")
                let process = Process()
                process.executableURL = URL(fileURLWithPath: BakeCLI.binary)
                process.arguments = ["export", "top", "--format", format, "--output", output]
                process.currentDirectoryURL = URL(fileURLWithPath: project)
                process.environment = BakeCLI.baseEnvironment
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.run()
                if delay > 0 { Thread.sleep(forTimeInterval: delay) }
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                // Whenever it died, PATH is either absent or complete.
                if FileManager.default.fileExists(atPath: output) {
                    switch format {
                    case "oci":
                        #expect(FileManager.default.fileExists(atPath: output + "/index.json"), "\(output) without index.json")
                    case "rootfs":
                        #expect(FileManager.default.fileExists(atPath: output + "/srv"), "\(output) is not the whole root file system")
                    default:
                        let list = try Command.run(["tar", "-tf", output])
                        #expect(list.status == 0 && list.stdout.contains("index.json"), "\(output) is not a whole archive")
                    }
                }
                // The next export completes and leaves nothing staged.
                try? FileManager.default.removeItem(atPath: output)
                let again = try BakeCLI.run(["export", "top", "--format", format, "--output", output], in: project)
                #expect(again.status == 0, "\(again.stderr)")
                #expect(Self.staged(dir.path).isEmpty, "\(Self.staged(dir.path))")
            }
        }
    }
}

/// A path as long as Linux allows (4094 bytes) survives import, unpacking and its stamp.
@Suite(.enabled(if: Host.canRun(tools: ["busybox", "python3"], root: true)))
struct LongPathTests {
    @Test func aPathJustUnderTheLimitIsImportedUnpackedAndUsable() throws {
        let dir = TemporaryDirectory("bake-long")
        let project = dir.at("p")
        try BusyboxProject.rootfs(at: dir.at("rootfs"))
        try Fixture.mkdir(project + "/images/deep")
        try HostileInputTests.python("""
            import io, sys, tarfile
            with tarfile.open(sys.argv[2], "w", format=tarfile.PAX_FORMAT) as tar:
                tar.add(sys.argv[1], arcname=".")
                name = "/".join(["d" * 9] * 408) + "/last"   # 4084 bytes: more than PATH_MAX below any host folder
                info = tarfile.TarInfo(name); info.size = 5
                tar.addfile(info, io.BytesIO(b"deep\\n"))
            """, [dir.at("rootfs"), project + "/images/deep/deep.tar"])
        let name = Array(repeating: String(repeating: "d", count: 9), count: 408).joined(separator: "/") + "/last"
        try Fixture.write(project + "/images/deep/stage.yaml", """
            from:
              rootfs: deep.tar
            steps:
              - run: cat "/\(name)" > /found

            """)
        let build = try BakeCLI.run(["build", "deep"], in: project)
        #expect(build.status == 0, "\(build.stderr)")
        let run = try BakeCLI.run(["run", "deep", "--", "cat", "/found"], in: project)
        #expect(run.stdout == "deep\n", "\(run.stdout) \(run.stderr)")
        let fsck = try BakeCLI.run(["fsck"], in: project)
        #expect(fsck.status == 0, "\(fsck.stdout) \(fsck.stderr)")
        let again = try BakeCLI.run(["build", "--no-cache", "deep"], in: project)
        #expect(again.status == 0 && !again.stderr.contains("warning"), "\(again.stderr)")
    }

    @Test func aRunStepOnAFileWhoseNameIsNotUTF8ComparesItByItsBytes() throws {
        let dir = TemporaryDirectory("bake-long")
        let project = dir.at("p")
        try BusyboxProject.write(at: project, images: ["x": "from: tools\nsteps:\n  - copy: sub/\n    to: /sub/\n  - run: chmod 644 /sub/name-* && echo ok > /ok\n"])
        try HostileInputTests.python("import os, sys; os.makedirs(sys.argv[1], exist_ok=True); open(sys.argv[1].encode() + b'/name-\\xff', 'w').write('same')", [project + "/images/x/sub"])
        let build = try BakeCLI.run(["build", "x"], in: project)
        #expect(build.status == 0, "\(build.stderr)")
        let inspect = try BakeCLI.run(["inspect", "x", "--json"], in: project)
        let runLayer = try #require(try BaseImportTests.layerDigests(inspect.stdout).last)
        let listing = try Command.run(["sh", "-c", "gzip -dc < \"$0\" | tar -tf -", project + "/.bake/oci/blobs/sha256/" + runLayer.dropFirst(7)])
        #expect(listing.stdout == "ok\n", "only copied up, the file is not in the step's layer: \(listing.stdout)")
    }
}
