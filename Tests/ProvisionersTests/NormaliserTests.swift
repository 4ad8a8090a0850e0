import Foundation
import Glibc
import Testing
import TestSupport
@testable import Layers
@testable import Provisioners

/// The documented list of volatile files, applied to an upper dir.
struct NormaliserTests {
    @Test(arguments: [
        ("var/log/apt/*", "var/log/apt/history.log", true),
        ("var/log/apt/*", "var/log/apt/sub/history.log", false),
        ("var/cache/apt/**", "var/cache/apt/archives/partial", true),
        ("var/cache/apt/**", "var/cache/apt", false),
        ("**/__pycache__", "usr/lib/python3/dist-packages/x/__pycache__", true),
        ("**/__pycache__", "__pycache__", true),
        ("**/*.pyc", "usr/lib/a.pyc", true),
        ("**/*.pyc", "usr/lib/a.pyc.txt", false),
        ("etc/ssh/ssh_host_*", "etc/ssh/ssh_host_ed25519_key.pub", true),
        ("etc/ssh/ssh_host_*", "etc/ssh/sshd_config", false),
        ("etc/passwd-", "etc/passwd", false),
        ("var/log/nginx/*", "var/log/nginx/access.log", true),
        ("var/log/nginx/*", "var/log/nginx", false),
    ])
    func patterns(pattern: String, path: String, matches: Bool) {
        #expect(Glob.matches(pattern, path) == matches)
    }

    @Test func volatileFilesAreDroppedEmptiedOrPinnedAndEverythingElseIsKept() throws {
        let dir = TemporaryDirectory()
        let upper = dir.at("upper")
        let epoch: Int64 = 1_700_000_000
        let files = [
            "var/log/dpkg.log": "2026-11-21 10:00:00 install hello",
            "var/log/apt/history.log": "Start-Date: 2026-11-21",
            "var/cache/apt/pkgcache.bin": "cache",
            "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease": "release",
            "var/cache/ldconfig/aux-cache": "aux",
            "var/lib/dpkg/status-old": "old",
            "usr/lib/python3/x/__pycache__/y.cpython-311.pyc": "pyc",
            "usr/lib/python3/x/y.py": "print()",
            "etc/machine-id": "0123456789abcdef0123456789abcdef\n",
            "etc/passwd-": "backup",
            "etc/shadow": "root:*:20413:0:99999:7:::\napp:!:20413::::::\nnologin:*:0:0:99999:7:::\nblank:*::0:99999:7:::\nold:*:18000:0:99999:7:::",
            "etc/ssh/ssh_host_ed25519_key": "key",
            "var/log/app.log": "the app's own log is the user's business",
            "srv/app/index.html": "<html>",
        ]
        for (path, content) in files { try Fixture.write(upper + "/" + path, content) }
        try Fixture.write(upper + "/var/log/nginx/access.log", "127.0.0.1 - - [21/Nov/2026:20:59:38 +0000] \"GET / HTTP/1.1\" 200 615\n", mode: 0o640)
        let changed = try Normaliser.apply(toUpper: upper, epoch: epoch)
        #expect(changed == [
            "/etc/machine-id", "/etc/passwd-", "/etc/shadow", "/etc/ssh/ssh_host_ed25519_key",
            "/usr/lib/python3/x/__pycache__", "/usr/lib/python3/x/__pycache__/y.cpython-311.pyc",
            "/var/cache/apt/pkgcache.bin", "/var/cache/ldconfig/aux-cache", "/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease",
            "/var/lib/dpkg/status-old", "/var/log/apt/history.log", "/var/log/dpkg.log", "/var/log/nginx/access.log",
        ])
        func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: upper + "/" + path) }
        for kept in ["usr/lib/python3/x/y.py", "var/log/app.log", "srv/app/index.html", "var/cache/apt", "var/lib/apt/lists"] {
            #expect(exists(kept), "\(kept)")
        }
        for dropped in ["var/log/dpkg.log", "var/log/apt/history.log", "var/cache/apt/pkgcache.bin", "usr/lib/python3/x/__pycache__",
                        "etc/passwd-", "etc/ssh/ssh_host_ed25519_key", "var/cache/ldconfig/aux-cache", "var/lib/dpkg/status-old"] {
            #expect(!exists(dropped), "\(dropped)")
        }
        #expect(try Fixture.read(upper + "/etc/machine-id") == "")
        // nginx's log stays, empty, with its mode (nginx-common makes it for the service).
        #expect(try Fixture.read(upper + "/var/log/nginx/access.log") == "")
        #expect(try FileSystem.lstatPath(upper + "/var/log/nginx/access.log").permissions == 0o640)
        let day = String(epoch / 86_400)
        #expect(try Fixture.read(upper + "/etc/shadow")
            == "root:*:\(day):0:99999:7:::\napp:!:\(day)::::::\nnologin:*:0:0:99999:7:::\nblank:*::0:99999:7:::\nold:*:18000:0:99999:7:::")
        // Applied again, nothing changes: the rules are idempotent.
        #expect(try Normaliser.apply(toUpper: upper, epoch: epoch) == ["/etc/machine-id", "/etc/shadow", "/var/log/nginx/access.log"])
        #expect(try Fixture.read(upper + "/etc/shadow").contains("root:*:\(day):"))
    }

    @Test(.enabled(if: Host.canRun(root: true))) func theDeletionOfAVolatileFileIsKept() throws {
        // A step that removes /var/log/dpkg.log really removes it: the whiteout stays.
        let dir = TemporaryDirectory()
        let upper = dir.at("upper")
        try Fixture.mkdir(upper + "/var/log")
        #expect(mknod(upper + "/var/log/dpkg.log", S_IFCHR | 0o000, 0) == 0)
        #expect(try Normaliser.apply(toUpper: upper, epoch: 0).isEmpty)
        #expect(try FileSystem.lstatPath(upper + "/var/log/dpkg.log").kind == .characterDevice)
    }

    @Test(.enabled(if: Host.canRun(root: true))) func droppingKeepsDeletionsAndHidesWhatIsBelow() throws {
        // apt-get clean deleted an archive the image below had, and left a new one; a step
        // rewrote a .pyc the image below has.
        let dir = TemporaryDirectory()
        let upper = dir.at("upper")
        try Fixture.mkdir(upper + "/var/cache/apt/archives")
        #expect(mknod(upper + "/var/cache/apt/archives/old.deb", S_IFCHR, 0) == 0)
        try Fixture.write(upper + "/var/cache/apt/archives/new.deb", "new")
        try Fixture.write(upper + "/var/cache/apt/fresh/pkgcache.bin", "cache")
        try Fixture.write(upper + "/usr/lib/x/__pycache__/m.pyc", "new bytecode")
        let below: Set<String> = ["var", "var/cache", "var/cache/apt", "var/cache/apt/archives", "var/cache/apt/archives/old.deb",
                                  "usr", "usr/lib", "usr/lib/x", "usr/lib/x/__pycache__", "usr/lib/x/__pycache__/m.pyc"]
        try Normaliser.apply(toUpper: upper, epoch: 0, below: { below.contains($0.description) })
        func kind(_ path: String) -> String {
            guard let status = try? FileSystem.lstatPath(upper + "/" + path) else { return "absent" }
            if status.kind == .characterDevice && status.rdev == 0 { return "whiteout" }
            return status.kind == .directory ? "folder" : "file"
        }
        #expect(kind("var/cache/apt/archives/old.deb") == "whiteout")
        #expect(kind("var/cache/apt/archives/new.deb") == "absent")
        #expect(kind("var/cache/apt/archives") == "folder")
        #expect(kind("var/cache/apt/fresh") == "absent")
        #expect(kind("usr/lib/x/__pycache__") == "folder")
        #expect(kind("usr/lib/x/__pycache__/m.pyc") == "whiteout")
    }

    /// Hash-based .pyc (PEP 552 flags bit 0: what compileall and pip write under
    /// SOURCE_DATE_EPOCH) are deterministic and stay; timestamp-based ones, and bytes that
    /// are not a Python 3.7+ header, go, and so does a __pycache__ folder left empty.
    @Test func hashBasedBytecodeStaysAndTimestampBasedGoes() throws {
        let dir = TemporaryDirectory()
        let upper = dir.at("upper")
        func pyc(magic: UInt16, flags: UInt32) -> [UInt8] {
            [UInt8(magic & 0xff), UInt8(magic >> 8), 0x0d, 0x0a] + (0..<4).map { UInt8((flags >> (8 * $0)) & 0xff) }
                + [UInt8](repeating: 0xab, count: 24)
        }
        let files: [String: [UInt8]] = [
            "lib/hashed/__pycache__/m.cpython-311.pyc": pyc(magic: 3495, flags: 3),   // checked-hash
            "lib/hashed/__pycache__/n.cpython-311.pyc": pyc(magic: 3495, flags: 1),   // unchecked-hash
            "lib/hashed/__pycache__/o.cpython-311.pyc": pyc(magic: 3495, flags: 0),   // timestamp
            "lib/stamped/__pycache__/p.cpython-311.pyc": pyc(magic: 3495, flags: 0),
            "lib/stamped/__pycache__/deeper/q.pyc": pyc(magic: 3495, flags: 0),
            "lib/old/r.pyc": pyc(magic: 62211, flags: 1),                              // Python 2.7: an mtime, not flags
            "lib/short.pyc": [0x01, 0x02],
        ]
        for (path, bytes) in files {
            try Fixture.mkdir(upper + "/" + path.split(separator: "/").dropLast().joined(separator: "/"))
            #expect(FileManager.default.createFile(atPath: upper + "/" + path, contents: Data(bytes)))
        }
        let changed = try Normaliser.apply(toUpper: upper, epoch: 0)
        #expect(changed == [
            "/lib/hashed/__pycache__/o.cpython-311.pyc", "/lib/old/r.pyc", "/lib/short.pyc",
            "/lib/stamped/__pycache__", "/lib/stamped/__pycache__/deeper",
            "/lib/stamped/__pycache__/p.cpython-311.pyc",
        ])
        func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: upper + "/" + path) }
        #expect(exists("lib/hashed/__pycache__/m.cpython-311.pyc") && exists("lib/hashed/__pycache__/n.cpython-311.pyc"))
        #expect(!exists("lib/hashed/__pycache__/o.cpython-311.pyc") && !exists("lib/stamped/__pycache__") && exists("lib/stamped"))
        // Applied again, nothing changes.
        #expect(try Normaliser.apply(toUpper: upper, epoch: 0).isEmpty)
    }

    @Test func everyRuleHasAReasonAndNoTwoRulesShareAPattern() {
        #expect(Normaliser.rules.allSatisfy { !$0.reason.isEmpty })
        #expect(Set(Normaliser.rules.map(\.pattern)).count == Normaliser.rules.count)
        #expect(Normaliser.rule(for: "var/log/dpkg.log")?.action == .drop)
        #expect(Normaliser.rule(for: "srv/app/index.html") == nil)
    }
}
