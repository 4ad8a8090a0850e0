import Foundation
import Testing
import TestSupport

/// `from: {rootfs: ...}` and `from: {oci: ...}`: importing a base safely.
@Suite(.enabled(if: Host.canRun(tools: ["busybox", "python3"], root: true)))
struct BaseImportTests {
    /// Writes a tar with Python's tarfile: `entries` are (name, type, target-or-content).
    static func craftTar(_ path: String, _ entries: [(String, String, String)], gzip: Bool = false) throws {
        let spec = entries.map { "(\"\($0.0)\", \"\($0.1)\", \"\($0.2)\")" }.joined(separator: ", ")
        let script = """
            import io, sys, tarfile
            with tarfile.open(sys.argv[1], "w:gz" if sys.argv[2] == "1" else "w", format=tarfile.PAX_FORMAT) as tar:
                for name, kind, value in [\(spec)]:
                    info = tarfile.TarInfo(name)
                    info.mtime = 1700000000
                    if kind == "dir":
                        info.type = tarfile.DIRTYPE; info.mode = 0o755; tar.addfile(info)
                    elif kind == "symlink":
                        info.type = tarfile.SYMTYPE; info.linkname = value; tar.addfile(info)
                    elif kind == "hardlink":
                        info.type = tarfile.LNKTYPE; info.linkname = value; tar.addfile(info)
                    else:
                        data = value.encode(); info.size = len(data); info.mode = 0o644; tar.addfile(info, io.BytesIO(data))
            """
        let result = try Command.run(["python3", "-c", script, path, gzip ? "1" : "0"])
        guard result.status == 0 else { throw FixtureError("python3 tarfile: \(result.stderr)") }
    }

    @Test func aRootfsTarballBecomesTheFirstLayerAndRunStepsWorkOnIt() throws {
        let dir = TemporaryDirectory("bake-base")
        let project = dir.at("p")
        try BusyboxProject.rootfs(at: dir.at("rootfs"))
        try Fixture.mkdir(project + "/images/box")
        #expect(try Command.run(["tar", "-C", dir.at("rootfs"), "-czf", project + "/images/box/busybox.tar.gz", "."]).status == 0)
        try Fixture.write(project + "/images/box/stage.yaml", "from:\n  rootfs: busybox.tar.gz\nsteps:\n  - run: rm /etc/doomed && echo made > /made\n")
        let first = try BakeCLI.run(["build", "box"], in: project)
        #expect(first.status == 0, "\(first.stderr)")
        let run = try BakeCLI.run(["run", "box", "--", "sh", "-c", "cat /made /etc/old; test ! -e /etc/doomed"], in: project)
        #expect(run.status == 0 && run.stdout == "made\nold\n", "\(run.stdout) \(run.stderr)")
        // Unchanged tarball: cached, the same digest.
        let steps = try BakeCLI.build(["box"], in: project)
        #expect(steps == ["box/0": "cached", "box/1": "cached"], "\(steps)")
        // The same tarball in another project, touched: the same image.
        let other = dir.at("q")
        try Fixture.mkdir(other)
        try Fixture.copyTree(project + "/images", to: other + "/images")
        Fixture.setMtime(other + "/images/box/busybox.tar.gz", seconds: 1_000_000)
        let second = try BakeCLI.run(["build", "box"], in: other)
        #expect(BakeCLI.digests(second.stdout)["box"] == BakeCLI.digests(first.stdout)["box"])
        let verify = try BakeCLI.run(["verify", "box"], in: project)
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
    }

    @Test(arguments: [
        ("dotdot", [("etc", "dir", ""), ("../escaped", "file", "x")], "'..'"),
        ("absolute", [("/etc/escaped", "file", "x")], "absolute"),
        ("through-symlink", [("etc", "symlink", "/tmp"), ("etc/escaped", "file", "x")], "goes through the symlink /etc"),
        ("hardlink-out", [("etc", "dir", ""), ("etc/link", "hardlink", "../../etc/passwd")], "'..'"),
    ])
    func anUnsafeTarballIsRefusedAndTouchesNothing(name: String, entries: [(String, String, String)], reason: String) throws {
        let dir = TemporaryDirectory("bake-base")
        let project = dir.at("p")
        try Fixture.mkdir(project + "/images/evil")
        try Self.craftTar(project + "/images/evil/evil.tar", entries)
        try Fixture.write(project + "/images/evil/stage.yaml", "from:\n  rootfs: evil.tar\n")
        let result = try BakeCLI.run(["build", "evil"], in: project)
        #expect(result.status == 2, "\(result.stderr)")
        // One sentence, the last line (after the progress lines).
        let error = result.stderr.split(separator: "\n").last.map(String.init) ?? ""
        #expect(error.hasPrefix("bake: images/evil/stage.yaml:2:3: the root file system tarball evil.tar is refused: "), "\(result.stderr)")
        #expect(error.contains(reason), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "/tmp/escaped"))
        #expect(!FileManager.default.fileExists(atPath: project + "/escaped"))
        // Nothing entered the store.
        let blobs = (try? FileManager.default.contentsOfDirectory(atPath: project + "/.bake/oci/blobs/sha256")) ?? []
        #expect(blobs.isEmpty, "\(blobs)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: project + "/.bake/tmp").isEmpty)
    }

    @Test func anOCILayoutBaseKeepsItsDigestsAndATamperedBlobIsRefused() throws {
        let dir = TemporaryDirectory("bake-base")
        // A base image exported from one project ...
        let source = dir.at("source")
        try BusyboxProject.write(at: source, images: [:])
        #expect(try BakeCLI.run(["build", "tools"], in: source).status == 0)
        let layout = dir.at("p/images/app/layout")
        let export = try BakeCLI.run(["export", "tools", "--format", "oci", "--output", layout], in: source)
        #expect(export.status == 0, "\(export.stderr)")
        let sourceInspect = try BakeCLI.run(["inspect", "tools", "--json"], in: source)
        // ... is the base of another.
        let project = dir.at("p")
        try Fixture.write(project + "/images/app/stage.yaml", "from:\n  oci: layout\n  ref: tools\nsteps:\n  - run: echo on top > /top\n")
        let build = try BakeCLI.run(["build", "app"], in: project)
        #expect(build.status == 0, "\(build.stderr)")
        let inspect = try BakeCLI.run(["inspect", "app", "--json"], in: project)
        let sourceLayers = try Self.layerDigests(sourceInspect.stdout)
        let layers = try Self.layerDigests(inspect.stdout)
        #expect(layers.count == sourceLayers.count + 1)
        #expect(Array(layers.prefix(sourceLayers.count)) == sourceLayers, "the base's layers are imported as they are")
        #expect(try BakeCLI.run(["run", "app", "--", "cat", "/top"], in: project).stdout == "on top\n")
        let verify = try BakeCLI.run(["verify", "app"], in: project)
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")

        // A blob of the layout changed behind bake's back: refused in a fresh store.
        let blob = layout + "/blobs/sha256/" + sourceLayers[0].dropFirst("sha256:".count)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: blob))
        var tampered = [UInt8](bytes)
        tampered[tampered.count / 2] ^= 0xff
        try Data(tampered).write(to: URL(fileURLWithPath: blob))
        try FileManager.default.removeItem(atPath: project + "/.bake")
        let refused = try BakeCLI.run(["build", "app"], in: project)
        #expect(refused.status == 2, "\(refused.stderr)")
        #expect(refused.stderr.contains("layer \(sourceLayers[0]) of 'tools' in layout is refused"), "\(refused.stderr)")
        let blobs = (try? FileManager.default.contentsOfDirectory(atPath: project + "/.bake/oci/blobs/sha256")) ?? []
        #expect(blobs.isEmpty, "\(blobs)")
    }

    static func layerDigests(_ json: String) throws -> [String] {
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        let layers = object?["layers"] as? [[String: Any]] ?? []
        return layers.compactMap { $0["digest"] as? String }
    }
}
