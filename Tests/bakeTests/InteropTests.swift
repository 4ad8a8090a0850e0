import Foundation
import Testing
import TestSupport

/// bake's images read by skopeo, umoci and podman.
@Suite(.serialized) struct InteropTests {
    /// The toy pipeline, built once per test.
    final class Built {
        let dir = TemporaryDirectory("bake-interop")
        var project: String { dir.at("project") }
        let digests: [String: String]

        init() throws {
            try BakeCLI.toyProject(at: dir.at("project"))
            let result = try BakeCLI.run(["build", "app"], in: dir.at("project"))
            guard result.status == 0 else { throw FixtureError("bake build app failed: \(result.stderr)") }
            digests = BakeCLI.digests(result.stdout)
        }
    }

    static func tree(_ root: String) throws -> [String] {
        try Command.shell("cd '\(root)' && find . -mindepth 1 -printf '%p %M %U:%G %s %l\\n' | sort").stdout
            .split(separator: "\n").map(String.init)
    }

    /// What the toy's stage files put into app, exactly: the paths, modes and owners
    /// the stage files ask for, with the sizes of the source files they copy.
    static var expectedAppTree: [String] {
        func size(_ source: String) -> String { String(ToyProject.size(source)) }
        return [
            "./etc drwxr-xr-x 0:0 4096 ",
            "./etc/group -rw-r--r-- 0:0 \(size("app-base/etc/group")) ",
            "./etc/localtime lrwxrwxrwx 0:0 25 ../usr/share/zoneinfo/UTC",
            "./etc/os-release -rw-r--r-- 0:0 \(size("base/rootfs/etc/os-release")) ",
            "./etc/passwd -rw-r--r-- 0:0 \(size("app-base/etc/passwd")) ",
            "./srv drwxr-xr-x 0:0 4096 ",
            "./srv/app drwxr-xr-x 10001:10001 4096 ",
            "./srv/app/current drwxr-xr-x 10001:10001 4096 ",
            "./srv/app/current/assets drwxr-xr-x 10001:10001 4096 ",
            "./srv/app/current/assets/site.css -rw-r--r-- 10001:10001 \(size("app/site/assets/site.css")) ",
            "./srv/app/current/index.html -rw-r--r-- 10001:10001 \(size("app/site/index.html")) ",
            "./srv/app/releases drwxr-xr-x 10001:10001 4096 ",
            "./srv/app/releases/.keep -rw-r--r-- 10001:10001 0 ",
            "./srv/app/shared drwxr-xr-x 10001:10001 4096 ",
            "./srv/app/shared/.keep -rw-r--r-- 10001:10001 0 ",
            "./usr drwxr-xr-x 0:0 4096 ",
            "./usr/local drwxr-xr-x 0:0 4096 ",
            "./usr/local/bin drwxr-xr-x 0:0 4096 ",
            "./usr/local/bin/boot -rwxr-xr-x 0:0 \(size("app/boot.sh")) ",
            "./usr/local/bin/probe -rwxr-xr-x 0:0 \(size("base/rootfs/usr/local/bin/probe")) ",
        ]
    }

    @Test(.enabled(if: Host.canRun(tools: ["skopeo"])))
    func skopeoReadsTheLayoutAndAgreesOnTheDigest() throws {
        let built = try Built()
        let result = try Command.run(["skopeo", "inspect", "oci:\(built.project)/.bake/oci:app"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect(json?["Digest"] as? String == built.digests["app"])
        let report = try BakeCLI.run(["inspect", "app", "--json"], in: built.project)
        let ours = try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any]
        let ourLayers = (ours?["layers"] as? [[String: Any]])?.compactMap { $0["digest"] as? String }
        #expect(ourLayers == json?["Layers"] as? [String])
        #expect(ourLayers?.count == 6)
        #expect((ours?["parent"] as? [String: Any])?["name"] as? String == "app-base")
        #expect((ours?["parent"] as? [String: Any])?["digest"] as? String == built.digests["app-base"])
        // skopeo can copy it out of the layout unchanged.
        let copy = try Command.run(["skopeo", "copy", "oci:\(built.project)/.bake/oci:app", "oci:\(built.dir.at("copy")):app"])
        #expect(copy.status == 0, "\(copy.stderr)")
        let copied = try Command.run(["skopeo", "inspect", "oci:\(built.dir.at("copy")):app"])
        #expect((try JSONSerialization.jsonObject(with: Data(copied.stdout.utf8)) as? [String: Any])?["Digest"] as? String == built.digests["app"])
    }

    @Test(.enabled(if: Host.canRun(tools: ["umoci"], root: true)))
    func umociUnpacksExactlyWhatTheStageFilesPutThere() throws {
        let built = try Built()
        let bundle = built.dir.at("bundle")
        let result = try Command.run(["umoci", "unpack", "--image", "\(built.project)/.bake/oci:app", bundle])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Self.tree(bundle + "/rootfs") == Self.expectedAppTree)
        // app-base removed /etc/motd, which base put there.
        let base = built.dir.at("base-bundle")
        #expect(try Command.run(["umoci", "unpack", "--image", "\(built.project)/.bake/oci:base", base]).status == 0)
        #expect(FileManager.default.fileExists(atPath: base + "/rootfs/etc/motd"))
        #expect(!FileManager.default.fileExists(atPath: bundle + "/rootfs/etc/motd"))
        // The bundle's runtime config carries the image config.
        let config = try Fixture.read(bundle + "/config.json")
        #expect(config.contains("/usr/local/bin/boot"))
        #expect(config.contains("APP_ENV=production"))
    }

    @Test(.enabled(if: Host.canRun(tools: ["podman", "busybox"], root: true)))
    func podmanReadsTheHealthcheckAndVolumes() throws {
        let dir = TemporaryDirectory("bake-interop")
        let project = dir.at("p")
        try BusyboxProject.write(at: project, images: ["health": """
            from: tools
            config:
              healthcheck:
                test: wget -q -O /dev/null http://localhost:8080/ || exit 1
                interval: 1m30s
                timeout: 5s
                startPeriod: 500ms
                retries: 4
              volumes: [/var/lib/app, /data]

            """])
        let build = try BakeCLI.run(["build", "health"], in: project)
        #expect(build.status == 0, "\(build.stderr)")
        let archive = dir.at("health-docker.tar")
        let export = try BakeCLI.run(["export", "health", "--format", "docker-archive", "--output", archive], in: project)
        #expect(export.status == 0, "\(export.stderr)")
        let podman = ["podman", "--root", dir.at("podman/root"), "--runroot", dir.at("podman/run"), "--storage-driver", "vfs"]
        let load = try Command.run(podman + ["load", "-i", archive])
        #expect(load.status == 0, "\(load.stderr)")
        let inspect = try Command.run(podman + ["image", "inspect", "localhost/health:latest", "--format",
                                                "{{json .Config.Healthcheck}} {{json .Config.Volumes}}"])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        #expect(inspect.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == """
            {"Test":["CMD-SHELL","wget -q -O /dev/null http://localhost:8080/ || exit 1"],"StartPeriod":500000000,\
            "Interval":90000000000,"Timeout":5000000000,"Retries":4} {"/data":{},"/var/lib/app":{}}
            """, "\(inspect.stdout)")
    }

    @Test(.enabled(if: Host.canRun(tools: ["podman"], root: true)))
    func podmanLoadsTheDockerArchive() throws {
        let built = try Built()
        let archive = built.dir.at("app-docker.tar")
        let export = try BakeCLI.run(["export", "app", "--format", "docker-archive", "--output", archive], in: built.project)
        #expect(export.status == 0, "\(export.stderr)")
        let podman = ["podman", "--root", built.dir.at("podman/root"), "--runroot", built.dir.at("podman/run"), "--storage-driver", "vfs"]
        let load = try Command.run(podman + ["load", "-i", archive])
        #expect(load.status == 0, "\(load.stderr)")
        #expect(load.stdout.contains("localhost/app:latest"))
        let inspect = try Command.run(podman + ["image", "inspect", "localhost/app:latest", "--format",
                                                "{{.Config.Entrypoint}} {{.Config.User}} {{.Config.WorkingDir}} {{len .RootFS.Layers}}"])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        #expect(inspect.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[/usr/local/bin/boot] app /srv/app 6")
        // podman's own export of the image holds the same files.
        let mount = try Command.run(podman + ["create", "--name", "probe", "localhost/app:latest"])
        #expect(mount.status == 0, "\(mount.stderr)")
        let exported = built.dir.at("podman-export.tar")
        #expect(try Command.run(podman + ["export", "-o", exported, "probe"]).status == 0)
        let listing = try Command.run(["tar", "-tf", exported]).stdout
        #expect(listing.contains("srv/app/current/index.html"))
        #expect(!listing.contains("etc/motd"))
    }

    @Test(.enabled(if: Host.canRun(tools: ["skopeo"])))
    func ociExportsAreReadableLayouts() throws {
        let built = try Built()
        let layout = built.dir.at("layout")
        #expect(try BakeCLI.run(["export", "app", "--format", "oci", "--output", layout], in: built.project).status == 0)
        // Exporting a second image adds it to the same layout.
        #expect(try BakeCLI.run(["export", "base", "--format", "oci", "--output", layout], in: built.project).status == 0)
        for name in ["app", "base"] {
            let result = try Command.run(["skopeo", "inspect", "oci:\(layout):\(name)"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains(built.digests[name]!))
        }
        let archive = built.dir.at("app.oci.tar")
        #expect(try BakeCLI.run(["export", "app", "--format", "oci-archive", "--output", archive], in: built.project).status == 0)
        let result = try Command.run(["skopeo", "inspect", "oci-archive:\(archive)"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains(built.digests["app"]!))
        // The same export twice is the same bytes.
        let again = built.dir.at("again.oci.tar")
        #expect(try BakeCLI.run(["export", "app", "--format", "oci-archive", "--output", again], in: built.project).status == 0)
        #expect(FileManager.default.contents(atPath: archive) == FileManager.default.contents(atPath: again))
    }

    @Test(.enabled(if: Host.canRun(root: true)))
    func rootfsExportIsTheMergedTree() throws {
        let built = try Built()
        let rootfs = built.dir.at("rootfs")
        let result = try BakeCLI.run(["export", "app", "--format", "rootfs", "--output", rootfs], in: built.project)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Self.tree(rootfs) == Self.expectedAppTree)
        #expect(try FileSystemMode.of(rootfs) == 0o755)
    }

    /// A pipeline with what the toy lacks: hard links, setuid, deletions of folders, an opaque-free overwrite.
    @Test(.enabled(if: Host.canRun(tools: ["umoci"], root: true)))
    func umociSeesHardlinksSetuidAndDeletions() throws {
        let dir = TemporaryDirectory("bake-interop")
        let project = dir.at("p")
        try Fixture.write(project + "/images/base/stage.yaml", """
            from: scratch
            steps:
              - copy: root/
                to: /

            """)
        try Fixture.write(project + "/images/base/root/usr/bin/tool", "#!/bin/sh\n", mode: 0o755)
        try Fixture.hardlink(project + "/images/base/root/usr/bin/tool", at: project + "/images/base/root/usr/bin/tool-alias")
        try Fixture.write(project + "/images/base/root/usr/share/doc/pkg/README", "docs")
        try Fixture.write(project + "/images/base/root/etc/config", "old")
        try Fixture.write(project + "/images/top/stage.yaml", """
            from: base
            steps:
              - remove: [/usr/share/doc]
              - copy: su
                to: /usr/bin/su
                mode: "4755"
              - copy: config
                to: /etc/config

            """)
        try Fixture.write(project + "/images/top/su", "#!/bin/sh\n")
        try Fixture.write(project + "/images/top/config", "new")
        let build = try BakeCLI.run(["build"], in: project)
        #expect(build.status == 0, "\(build.stderr)")
        let bundle = dir.at("bundle")
        let unpack = try Command.run(["umoci", "unpack", "--image", "\(project)/.bake/oci:top", bundle])
        #expect(unpack.status == 0, "\(unpack.stderr)")
        let rootfs = bundle + "/rootfs"
        #expect(!FileManager.default.fileExists(atPath: rootfs + "/usr/share/doc"))
        #expect(FileManager.default.fileExists(atPath: rootfs + "/usr/share"))
        #expect(try Fixture.read(rootfs + "/etc/config") == "new")
        let stat = try Command.shell("stat -c '%i %h %A' '\(rootfs)/usr/bin/tool' '\(rootfs)/usr/bin/tool-alias' '\(rootfs)/usr/bin/su'").stdout
            .split(separator: "\n").map { $0.split(separator: " ") }
        #expect(stat.count == 3)
        #expect(stat[0][0] == stat[1][0])  // same inode: a hard link
        #expect(stat[0][1] == "2")
        #expect(stat[2][2] == "-rwsr-xr-x")
    }
}

enum FileSystemMode {
    static func of(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
    }
}
