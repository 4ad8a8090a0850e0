import Foundation
import Testing
import TestSupport

/// `from: {debian: ...}` and `apt:` against the real Debian mirror (CI has the network).
@Suite(.serialized, .enabled(if: Host.canRun(tools: ["mmdebstrap", "curl"], root: true)))
struct DebianTests {
    static let images = [
        "base": "from:\n  debian: {suite: bookworm, variant: minbase}\n",
        "web": """
            from: base
            steps:
              - apt: [hello, python3-minimal]
              - run: hello > /greeting
              - run: mkdir /opt/m && echo 'X = 1' > /opt/m/mod.py && python3 -m compileall -q /opt/m
              - run: useradd --uid 10001 --user-group --no-create-home app
            checks:
              - run: test "$(cat /greeting)" = "Hello, world!" && test "$(id -un)" = nobody
                user: nobody

            """,
    ]

    @Test func aDebianMinbaseWithAnAptStepBuiltTwiceFromNothingIsTheSameBytes() throws {
        var digests: [[String: String]] = []
        var dirs: [TemporaryDirectory] = []
        for umask in ["022", "027"] {
            let dir = TemporaryDirectory("bake-debian")
            dirs.append(dir)
            for (name, text) in Self.images { try Fixture.write(dir.at("p/images/\(name)/stage.yaml"), text) }
            let result = try BakeCLI.run(["--progress", "plain", "build", "web"], in: dir.at("p"), umask: umask)
            #expect(result.status == 0, "\(result.stderr.suffix(3000))")
            digests.append(BakeCLI.digests(result.stdout))
        }
        #expect(digests[0]["web"] != nil && digests[0]["base"] != nil)
        #expect(digests[0] == digests[1])

        let project = dirs[0].at("p")
        // The build machine's name and name servers, which mmdebstrap copies in, are not in
        // the base layer.
        let inspect = try BakeCLI.run(["inspect", "base", "--json"], in: project)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any])
        let layer = try #require((report["layers"] as? [[String: Any]])?.first?["digest"] as? String)
        let listing = try Command.run(["tar", "-tzf", project + "/.bake/oci/blobs/sha256/" + layer.dropFirst("sha256:".count)]).stdout
            .split(separator: "\n").map(String.init)
        #expect(listing.contains("etc/passwd"))
        #expect(!listing.contains("etc/hostname") && !listing.contains("etc/resolv.conf"))
        // The installed package and its version are in the build record; the release file's
        // digest is the base's upstream pin.
        let records = try Command.shell("cat '\(project)'/.bake/builds/web/*.json '\(project)'/.bake/builds/base/*.json").stdout
        #expect(records.contains("hello="), "\(records)")
        #expect(records.contains("debian.release"), "\(records)")
        // apt cleaned up after itself, and the volatile files are gone.
        let look = try BakeCLI.run(["run", "web", "--", "sh", "-c",
                                    "ls /var/lib/apt/lists | grep -v -e '^partial$' -e '^lock$' | wc -l; ls /var/cache/apt/archives/*.deb 2>/dev/null | wc -l; test -e /var/log/dpkg.log && echo dpkg.log; cat /etc/machine-id | wc -c; id app"],
                                   in: project)
        #expect(look.status == 0, "\(look.stderr)")
        #expect(look.stdout == "0\n0\n0\nuid=10001(app) gid=10001(app) groups=10001(app)\n", "\(look.stdout)")
        // Hash-based bytecode (compileall, and the interpreter's own from its postinst, under
        // SOURCE_DATE_EPOCH) stays; verify below reproduces it.
        let bytecode = try BakeCLI.run(["run", "web", "--", "sh", "-c",
                                        "ls /opt/m/__pycache__; ls /usr/lib/python3.11/__pycache__ | wc -l; python3 -c 'import sys; sys.path.insert(0, \"/opt/m\"); import mod'"],
                                       in: project)
        #expect(bytecode.status == 0, "\(bytecode.stderr)")
        let listed = bytecode.stdout.split(separator: "\n").map(String.init)
        #expect(listed.first == "mod.cpython-311.pyc", "\(bytecode.stdout)")
        #expect(listed.count == 2 && (Int(listed[1]) ?? 0) > 10, "\(bytecode.stdout)")
        // The same pipeline again: every step a cache hit.
        let steps = try BakeCLI.build(["web"], in: project)
        #expect(Set(steps.values) == ["cached"], "\(steps)")
        // bake.lock pins the release and records the apt step's packages.
        let lock = try Fixture.read(project + "/bake.lock")
        #expect(lock.contains("\"debian.release\""), "\(lock)")
        #expect(lock.contains("\"hello="), "\(lock)")
        // Rebuilt from nothing in a changed environment: the same bytes, base and web.
        let verify = try BakeCLI.run(["--progress", "plain", "verify", "web"], in: project)
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr.suffix(3000))")
        #expect(verify.stdout.split(separator: "\n").filter { $0.contains("reproduced") }.count == 2, "\(verify.stdout)")
    }

    @Test func aMissingMmdebstrapIsAClearErrorNamingThePackage() throws {
        let dir = TemporaryDirectory("bake-debian")
        try Fixture.write(dir.at("p/images/base/stage.yaml"), Self.images["base"]!)
        // A PATH with curl but no mmdebstrap.
        try Fixture.mkdir(dir.at("bin"))
        try Fixture.symlink("/usr/bin/curl", at: dir.at("bin/curl"))
        let result = try BakeCLI.run(["build", "base"], in: dir.at("p"), environment: ["PATH": dir.at("bin")])
        #expect(result.status == 2)
        #expect(result.stderr.split(separator: "\n").last.map(String.init) == "bake: mmdebstrap (needed for 'from: {debian: ...}') is not installed; install the Debian package 'mmdebstrap' (apt-get install mmdebstrap)",
                "\(result.stderr)")
    }
}
