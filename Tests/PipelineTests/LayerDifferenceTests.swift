import Foundation
import Testing
import Layers
import OCI
import TestSupport
@testable import Pipeline
import Provisioners

@Suite struct LayerDifferenceTests {
    // MARK: - Fixtures

    /// The mtime of every fixture entry unless a test changes it.
    static let time: Int64 = 1_700_000_000

    /// An entry and, for a regular file, its content.
    struct Item {
        var entry: TarEntry
        var content: [UInt8] = []
    }

    static func file(_ path: String, _ text: String, mode: UInt32 = 0o644, uid: UInt32 = 0, mtime: Int64 = time,
                     xattrs: [String: [UInt8]] = [:]) throws -> Item {
        try file(path, Array(text.utf8), mode: mode, uid: uid, mtime: mtime, xattrs: xattrs)
    }

    static func file(_ path: String, _ bytes: [UInt8], mode: UInt32 = 0o644, uid: UInt32 = 0, mtime: Int64 = time,
                     xattrs: [String: [UInt8]] = [:]) throws -> Item {
        Item(entry: TarEntry(path: try RelativePath(path), kind: .regular(size: Int64(bytes.count)), mode: mode,
                             uid: uid, mtime: mtime, xattrs: xattrs), content: bytes)
    }

    static func item(_ path: String, _ kind: TarEntry.Kind, mode: UInt32 = 0o755, mtime: Int64 = time) throws -> Item {
        Item(entry: TarEntry(path: try RelativePath(path), kind: kind, mode: mode, mtime: mtime))
    }

    static func directory(_ path: String) throws -> Item { try item(path, .directory) }

    /// A new store in a folder of `scratch`.
    static func store(_ scratch: TemporaryDirectory, _ name: String) throws -> ContentStore {
        let store = ContentStore(root: scratch.at(name))
        try store.create()
        return store
    }

    /// Writes `items` as a layer of `store`, in the order given.
    static func layer(_ store: ContentStore, _ items: [Item]) throws -> LayerDifference.Layer {
        let writer = try LayerWriter(store: store, threads: 1)
        for item in items {
            if item.entry.contentSize > 0 {
                try writer.tar.append(item.entry, contentFrom: ArraySource(item.content), describedAs: item.entry.path.description)
            } else {
                try writer.tar.append(item.entry)
            }
        }
        let blob = try writer.commit()
        return LayerDifference.Layer(store: store, layer: blob.descriptor, diffID: blob.diffID)
    }

    /// Compares two layers written into two different stores.
    static func compare(_ before: [Item], _ after: [Item], limit: Int = 200) throws -> (differences: [FileDifference], total: Int) {
        let scratch = TemporaryDirectory("bake-diff")
        return try LayerDifference.compare(layer(store(scratch, "first"), before), layer(store(scratch, "second"), after), limit: limit)
    }

    static func sha(_ text: String) -> String { Digest.sha256(Array(text.utf8)).encoded }
    static func sha(_ bytes: [UInt8]) -> String { Digest.sha256(bytes).encoded }

    static let mtimeText = "1700000000 (2023-11-14T22:13:20Z)"

    // MARK: - Layers

    @Test func identicalLayersInTwoStoresHaveNoDifferences() throws {
        let items = [try Self.directory("etc"), try Self.file("etc/hostname", "bake\n"), try Self.item("etc/link", .symlink(target: Array("hostname".utf8)))]
        let scratch = TemporaryDirectory("bake-diff")
        let first = try Self.layer(Self.store(scratch, "first"), items)
        let second = try Self.layer(Self.store(scratch, "second"), items)
        #expect(first.diffID == second.diffID)
        let result = try LayerDifference.compare(first, second)
        #expect(result.differences == [])
        #expect(result.total == 0)
    }

    /// The same entries in another order make other bytes but no file difference: the
    /// comparison reads both layers instead of trusting equal diffIDs.
    @Test func theSameEntriesInAnotherOrderHaveNoDifferences() throws {
        let items = [try Self.directory("etc"), try Self.file("etc/a", "one\n"), try Self.file("etc/b", "two\n")]
        let scratch = TemporaryDirectory("bake-diff")
        let first = try Self.layer(Self.store(scratch, "first"), items)
        let second = try Self.layer(Self.store(scratch, "second"), items.reversed())
        #expect(first.diffID != second.diffID)
        let result = try LayerDifference.compare(first, second)
        #expect(result.differences == [])
        #expect(result.total == 0)
    }

    @Test func aChangedSmallTextFileShowsItsDigestsContentAndDiff() throws {
        let result = try Self.compare(
            [try Self.directory("etc"), try Self.file("etc/app.conf", "name=app\ncolor=blue\nport=80\n")],
            [try Self.directory("etc"), try Self.file("etc/app.conf", "name=app\ncolor=red\nport=80\n")]
        )
        #expect(result.total == 1)
        let difference = try #require(result.differences.first)
        #expect(difference.path == "/etc/app.conf")
        #expect(difference.change == .changed)
        #expect(difference.attributes == [
            AttributeChange(attribute: "content sha256",
                            before: Self.sha("name=app\ncolor=blue\nport=80\n"), after: Self.sha("name=app\ncolor=red\nport=80\n")),
            AttributeChange(attribute: "size", before: "28", after: "27"),
        ])
        #expect(difference.before == "name=app\ncolor=blue\nport=80\n")
        #expect(difference.after == "name=app\ncolor=red\nport=80\n")
        #expect(difference.diff == [
            "--- a/etc/app.conf", "+++ b/etc/app.conf", "@@ -1,3 +1,3 @@",
            " name=app", "-color=blue", "+color=red", " port=80",
        ])
        #expect(difference.cause == nil)
    }

    @Test func aBinaryOrLargeFileHasAttributesButNoContent() throws {
        let binaryBefore: [UInt8] = [0x7f, 0x45, 0x4c, 0x46, 0, 1, 2]
        let binaryAfter: [UInt8] = [0x7f, 0x45, 0x4c, 0x46, 0, 1, 3]
        let invalidUTF8: [UInt8] = [0x61, 0xff, 0x0a]
        let large = String(repeating: "line\n", count: 14_000)  // 70,000 bytes: over 64 KiB
        let largeChanged = String(large.dropLast(5)) + "LINE\n"
        let result = try Self.compare(
            [try Self.file("big.txt", large), try Self.file("grows.txt", "small\n"), try Self.file("latin1.txt", invalidUTF8), try Self.file("tool", binaryBefore)],
            [try Self.file("big.txt", largeChanged), try Self.file("grows.txt", large), try Self.file("latin1.txt", "a\n"), try Self.file("tool", binaryAfter)]
        )
        #expect(result.total == 4)
        #expect(result.differences.map(\.path) == ["/big.txt", "/grows.txt", "/latin1.txt", "/tool"])
        #expect(result.differences[0].attributes == [
            AttributeChange(attribute: "content sha256", before: Self.sha(large), after: Self.sha(largeChanged)),
        ])
        #expect(result.differences[1].attributes == [
            AttributeChange(attribute: "content sha256", before: Self.sha("small\n"), after: Self.sha(large)),
            AttributeChange(attribute: "size", before: "6", after: "70000"),
        ])
        #expect(result.differences[3].attributes == [
            AttributeChange(attribute: "content sha256", before: Self.sha(binaryBefore), after: Self.sha(binaryAfter)),
        ])
        for difference in result.differences {
            #expect(difference.change == .changed)
            #expect(difference.before == nil, "\(difference.path)")
            #expect(difference.after == nil, "\(difference.path)")
            #expect(difference.diff == nil, "\(difference.path)")
        }
    }

    @Test func metadataChangesAreListedInTheirFixedOrder() throws {
        let result = try Self.compare(
            [
                try Self.file("bin", "#!/bin/sh\n", mode: 0o755, xattrs: ["user.binary": [0, 1, 0xfe], "user.kept": Array("same".utf8), "user.note": Array("old".utf8)]),
                try Self.file("data", "x\n", mode: 0o644, uid: 0, mtime: Self.time),
                try Self.item("dev", .characterDevice(major: 1, minor: 3), mode: 0o666),
                try Self.item("live", .symlink(target: Array("releases/1".utf8))),
            ],
            [
                try Self.file("bin", "#!/bin/sh\n", mode: 0o755, xattrs: ["security.capability": Array("cap".utf8), "user.kept": Array("same".utf8), "user.note": Array("new".utf8)]),
                try Self.file("data", "x\n", mode: 0o4755, uid: 1000, mtime: 1_600_000_000),
                try Self.item("dev", .characterDevice(major: 1, minor: 5), mode: 0o666),
                try Self.item("live", .symlink(target: Array("releases/2".utf8))),
            ]
        )
        #expect(result.total == 4)
        #expect(result.differences.map(\.path) == ["/bin", "/data", "/dev", "/live"])
        #expect(result.differences.allSatisfy { $0.change == .changed && $0.diff == nil && $0.before == nil })
        #expect(result.differences[0].attributes == [
            AttributeChange(attribute: "xattr security.capability", before: "(none)", after: "cap"),
            AttributeChange(attribute: "xattr user.binary", before: "0x0001fe", after: "(none)"),
            AttributeChange(attribute: "xattr user.note", before: "old", after: "new"),
        ])
        #expect(result.differences[1].attributes == [
            AttributeChange(attribute: "mode", before: "0644", after: "4755"),
            AttributeChange(attribute: "uid", before: "0", after: "1000"),
            AttributeChange(attribute: "mtime", before: Self.mtimeText, after: "1600000000 (2020-09-13T12:26:40Z)"),
        ])
        #expect(result.differences[2].attributes == [AttributeChange(attribute: "device", before: "1,3", after: "1,5")])
        #expect(result.differences[3].attributes == [AttributeChange(attribute: "link target", before: "releases/1", after: "releases/2")])
    }

    @Test func aChangeOfTypeShowsTheAttributesOfEachSide() throws {
        let result = try Self.compare(
            [try Self.file("current", "v1\n")],
            [try Self.item("current", .symlink(target: Array("/srv/v2".utf8)), mode: 0o777)]
        )
        #expect(result.differences == [FileDifference(path: "/current", change: .changed, attributes: [
            AttributeChange(attribute: "type", before: "file", after: "symlink"),
            AttributeChange(attribute: "content sha256", before: Self.sha("v1\n"), after: "(none)"),
            AttributeChange(attribute: "size", before: "3", after: "(none)"),
            AttributeChange(attribute: "mode", before: "0644", after: "0777"),
            AttributeChange(attribute: "link target", before: "(none)", after: "/srv/v2"),
        ])])
    }

    @Test func addedAndRemovedPathsAreSortedAsALayer() throws {
        let result = try Self.compare(
            [try Self.directory("a"), try Self.file("a/old.txt", "gone\n"), try Self.file("kept", "same\n")],
            [
                try Self.directory("a"), try Self.file("a/c", "new\n"), try Self.file("a/.wh.old.txt", ""),
                try Self.directory("a-b"), try Self.file("kept", "same\n"), try Self.item("run/pipe", .fifo, mode: 0o600),
            ]
        )
        #expect(result.total == 5)
        // Component order: "/a/..." before "/a-b", as in a layer.
        #expect(result.differences.map(\.path) == ["/a/.wh.old.txt", "/a/c", "/a/old.txt", "/a-b", "/run/pipe"])
        #expect(result.differences.map(\.change) == [.added, .added, .removed, .added, .added])

        let added = result.differences[1]
        #expect(added.attributes == [
            AttributeChange(attribute: "type", before: "(none)", after: "file"),
            AttributeChange(attribute: "content sha256", before: "(none)", after: Self.sha("new\n")),
            AttributeChange(attribute: "size", before: "(none)", after: "4"),
            AttributeChange(attribute: "mode", before: "(none)", after: "0644"),
            AttributeChange(attribute: "uid", before: "(none)", after: "0"),
            AttributeChange(attribute: "gid", before: "(none)", after: "0"),
            AttributeChange(attribute: "mtime", before: "(none)", after: Self.mtimeText),
        ])
        #expect(added.before == nil)
        #expect(added.after == "new\n")
        #expect(added.diff == nil)

        let removed = result.differences[2]
        #expect(removed.before == "gone\n")
        #expect(removed.after == nil)
        #expect(removed.attributes.first == AttributeChange(attribute: "type", before: "file", after: "(none)"))

        #expect(result.differences[3].attributes.first == AttributeChange(attribute: "type", before: "(none)", after: "directory"))
        #expect(result.differences[4].attributes.first == AttributeChange(attribute: "type", before: "(none)", after: "fifo"))
    }

    @Test func theLimitCapsTheListButNotTheTotal() throws {
        let before = try (0..<10).map { try Self.file("f\($0)", "before \($0)\n") }
        let after = try (0..<10).map { try Self.file("f\($0)", "after \($0)\n") }
        let result = try Self.compare(before, after, limit: 3)
        #expect(result.total == 10)
        #expect(result.differences.map(\.path) == ["/f0", "/f1", "/f2"])
        #expect(result.differences[2].diff == ["--- a/f2", "+++ b/f2", "@@ -1 +1 @@", "-before 2", "+after 2"])

        let none = try Self.compare(before, after, limit: 0)
        #expect(none.total == 10)
        #expect(none.differences == [])
    }

    @Test func extractFileWritesARegularFileOnly() throws {
        let scratch = TemporaryDirectory("bake-diff")
        let layer = try Self.layer(Self.store(scratch, "store"), [
            try Self.directory("etc"), try Self.file("etc/motd", "hello\n"), try Self.item("etc/motd.link", .hardlink(target: try RelativePath("etc/motd"))),
            try Self.item("etc/symlink", .symlink(target: Array("motd".utf8))),
        ])
        let destination = scratch.at("motd")
        #expect(try LayerDifference.extractFile("/etc/motd", from: layer.store, layer: layer.layer, diffID: layer.diffID, to: destination))
        #expect(try Fixture.read(destination) == "hello\n")

        let linked = scratch.at("linked")
        #expect(try LayerDifference.extractFile("/etc/motd.link", from: layer.store, layer: layer.layer, diffID: layer.diffID, to: linked))
        #expect(try Fixture.read(linked) == "hello\n")

        for path in ["/etc", "/etc/symlink", "/etc/missing"] {
            let target = scratch.at("none")
            #expect(try !LayerDifference.extractFile(path, from: layer.store, layer: layer.layer, diffID: layer.diffID, to: target), "\(path)")
            #expect(!FileManager.default.fileExists(atPath: target), "\(path)")
        }
        // Nothing but the two extracted files is left beside them.
        let names = try FileManager.default.contentsOfDirectory(atPath: scratch.path).sorted()
        #expect(names == ["linked", "motd", "store"])
    }

    // MARK: - Known causes

    @Test func aStampWithNanosecondsIsATimestampWrittenAtBuildTime() throws {
        let result = try Self.compare(
            [try Self.file("stamp", "built 1700000000123456789\n"), try Self.file("version", "1.2.3\n")],
            [try Self.file("stamp", "built 1700000042987654321\n"), try Self.file("version", "1.2.4\n")]
        )
        #expect(result.differences.map(\.path) == ["/stamp", "/version"])
        #expect(result.differences[0].cause == KnownCause.buildTimestamp)
        #expect(result.differences[0].cause?.name == "a timestamp written at build time")
        #expect(result.differences[0].cause?.fix == "use $SOURCE_DATE_EPOCH (set in every step) instead of the clock, e.g. date -d @$SOURCE_DATE_EPOCH")
        // An ordinary change has no known cause.
        #expect(result.differences[1].cause == nil)
    }

    /// An `ls -l` listing saved at build time differs only in its dates; a tar archive in
    /// its members' times: verify names each cause and its fix.
    @Test func aListingWithDatesAndATarArchiveHaveTheirCauses() throws {
        let listing = { (time: String) in
            "total 8\ndrwxr-xr-x 2 root root 4096 \(time) assets\n-rw-r--r-- 1 root root   12 \(time) index.html\n"
        }
        let result = try Self.compare(
            [try Self.file("srv/listing.txt", listing("Nov 14 22:13")), try Self.file("srv/old.txt", listing("Nov 14  2023")),
             try Self.file("srv/site.tar", Array("ustar one".utf8) + [0, 1, 2]), try Self.file("srv/notes.txt", "-rw-r--r-- is a mode\n")],
            [try Self.file("srv/listing.txt", listing("Dec  3 06:20")), try Self.file("srv/old.txt", listing("Jan  2  2024")),
             try Self.file("srv/site.tar", Array("ustar two".utf8) + [0, 1, 2]), try Self.file("srv/notes.txt", "-rw-r----- is a mode\n")]
        )
        let causes = Dictionary(uniqueKeysWithValues: result.differences.map { ($0.path, $0.cause) })
        #expect(causes["/srv/listing.txt"] == KnownCause.listingTimes)
        #expect(causes["/srv/old.txt"] == KnownCause.listingTimes)
        #expect(KnownCause.listingTimes.fix.contains("touch -d @$SOURCE_DATE_EPOCH"))
        #expect(causes["/srv/site.tar"] == KnownCause.tarMemberTimes)
        #expect(KnownCause.tarMemberTimes.fix.contains("--mtime=@$SOURCE_DATE_EPOCH"))
        // A mode without a date is not a listing's time.
        #expect(causes["/srv/notes.txt"] == .some(nil))
    }

    @Test(arguments: [
        ("1700000000\n", "1700000001\n", true),  // seconds
        ("t=1700000000000\n", "t=1700000000001\n", true),  // milliseconds
        ("Built on 2023-11-14T22:13:20Z\n", "Built on 2024-01-02T03:04:05Z\n", true),
        ("Date: Tue, 14 Nov 2023 22:13:20 +0000\n", "Date: Wed, 15 Nov 2023 08:00:00 +0000\n", true),
        ("Tue Nov 14 22:13:20 UTC 2023\n", "Wed Nov 15 08:00:00 UTC 2023\n", true),
        ("id=1700000000\nname=a\n", "id=1700000000\nname=b\n", false),  // the differing lines hold no time
        ("n=12345678901\n", "n=12345678902\n", false),  // 11 digits: not a Unix time
        ("n=3700000000\n", "n=3700000001\n", false),  // starts with 3: beyond 2065
    ])
    func timestampsInContent(before: String, after: String, expected: Bool) {
        let difference = FileDifference(
            path: "/srv/app/BUILD", change: .changed,
            attributes: [AttributeChange(attribute: "content sha256", before: Self.sha(before), after: Self.sha(after))],
            before: before, after: after
        )
        #expect(KnownCause.match(difference) == (expected ? KnownCause.buildTimestamp : nil))
    }

    @Test(arguments: [
        ("/usr/lib/python3/dist-packages/__pycache__/six.cpython-311.pyc", FileDifference.Change.added, "Python bytecode"),
        ("/srv/app/module.pyc", .changed, "Python bytecode"),
        ("/etc/machine-id", .changed, "a machine ID generated at build time"),
        ("/var/lib/dbus/machine-id", .added, "a machine ID generated at build time"),
        ("/etc/ld.so.cache", .changed, "the ldconfig cache"),
        ("/var/cache/ldconfig/aux-cache", .changed, "the ldconfig cache"),
        ("/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease", .added, "apt/dpkg state and backup files"),
        ("/var/lib/dpkg/status-old", .changed, "apt/dpkg state and backup files"),
        ("/var/cache/debconf/templates.dat-old", .changed, "apt/dpkg state and backup files"),
        ("/var/cache/man/index.db", .changed, "the man-db index"),
        ("/var/log/apt/history.log.1.gz", .changed, "a log written at build time"),
        ("/srv/app/build.log", .added, "a log written at build time"),
        ("/var/cache/apt/pkgcache.bin", .changed, "a cache left in the image"),
        ("/root/.cache/pip/http/a", .added, "a cache left in the image"),
        ("/home/app/.cache/npm/b", .added, "a cache left in the image"),
        ("/tmp/build/output", .added, "temporary files left behind"),
        ("/var/tmp/x", .removed, "temporary files left behind"),
        ("/usr/share/doc/bash/changelog.gz", .changed, "gzip embeds a timestamp and name"),
        ("/srv/app/lib/app.jar", .changed, "zip/jar archives record each entry's timestamp"),
    ])
    func pathRules(path: String, change: FileDifference.Change, expected: String) throws {
        let difference = FileDifference(path: path, change: change, attributes: [
            AttributeChange(attribute: "content sha256", before: Self.sha("a"), after: Self.sha("b")),
        ])
        let cause = try #require(KnownCause.match(difference))
        #expect(cause.name.hasPrefix(expected), "\(path): \(cause.name)")
    }

    @Test func archivesWhoseContentIsEqualHaveNoArchiveCause() {
        // Only the mode differs: gzip's header is not what changed.
        let difference = FileDifference(path: "/usr/share/doc/bash/changelog.gz", change: .changed, attributes: [
            AttributeChange(attribute: "mode", before: "0644", after: "0755"),
        ])
        #expect(KnownCause.match(difference) == nil)
    }

    @Test func randomNamesPairAnAddedAndARemovedPathInOneFolder() {
        let differences = KnownCause.annotate([
            FileDifference(path: "/run/build/out.12345", change: .removed),
            FileDifference(path: "/run/build/out.9876", change: .added),
            FileDifference(path: "/run/build/tmp.Xa3bC9dE1f", change: .added),
            FileDifference(path: "/run/build/tmp.k2Jd8sLm0q", change: .removed),
            FileDifference(path: "/run/other/tmp.Q7w8E9r0T1", change: .added),  // no partner in its folder
            FileDifference(path: "/srv/app/config.yaml", change: .added),
            FileDifference(path: "/srv/app/settings.yaml", change: .removed),  // plain names: no cause
            FileDifference(path: "/srv/app/python3.11", change: .removed),
            FileDifference(path: "/srv/app/python3.12", change: .added),  // a version, not a random name
            FileDifference(path: "/usr/lib/libicu72.so", change: .removed),
            FileDifference(path: "/usr/lib/libicu74.so", change: .added),  // a soname bump, not a random name
            // mktemp draws with few switches between letter cases and digits (seen in CI).
            FileDifference(path: "/var/spool/job.fGhjKLmn", change: .removed),
            FileDifference(path: "/var/spool/job.qwertyui", change: .added),
            FileDifference(path: "/usr/lib/libfoo-abcdef12.so", change: .removed),
            FileDifference(path: "/usr/lib/libfoo-abcdef13.so", change: .added),  // one position: not random
        ])
        #expect(differences.map(\.cause) == [
            KnownCause.randomName, KnownCause.randomName, KnownCause.randomName, KnownCause.randomName,
            nil, nil, nil, nil, nil, nil, nil,
            KnownCause.randomName, KnownCause.randomName, nil, nil,
        ])
        #expect(KnownCause.randomName.name == "a random file name (mktemp or a PID)")
    }

    @Test func compareNamesCausesOfItsDifferences() throws {
        let result = try Self.compare(
            [try Self.directory("var"), try Self.directory("var/lib"), try Self.directory("var/lib/app"), try Self.file("var/lib/app/lock.AbC123xy", "")],
            [try Self.directory("var"), try Self.directory("var/lib"), try Self.directory("var/lib/app"), try Self.file("var/lib/app/lock.zq9RT4pw", "")]
        )
        #expect(result.differences.map(\.path) == ["/var/lib/app/lock.AbC123xy", "/var/lib/app/lock.zq9RT4pw"])
        #expect(result.differences.map(\.change) == [.removed, .added])
        #expect(result.differences.map(\.cause) == [KnownCause.randomName, KnownCause.randomName])
    }

    // MARK: - TextDiff

    @Test func textDiffOfOneChangedLineHasThreeLinesOfContext() {
        let before = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n"
        let after = "a\nb\nc\nd\nE\nf\ng\nh\ni\nj\n"
        #expect(TextDiff.unified(before, after, path: "/etc/x") == [
            "--- a/etc/x", "+++ b/etc/x", "@@ -2,7 +2,7 @@", " b", " c", " d", "-e", "+E", " f", " g", " h",
        ])
        #expect(TextDiff.unified(before, before, path: "/etc/x") == [])
    }

    @Test func textDiffSplitsDistantChangesIntoHunksAndMergesCloseOnes() {
        let numbers = (1...20).map(String.init)
        let before = numbers.joined(separator: "\n") + "\n"
        var changed = numbers
        changed[1] = "two"
        changed[17] = "eighteen"
        #expect(TextDiff.unified(before, changed.joined(separator: "\n") + "\n", path: "n") == [
            "--- a/n", "+++ b/n",
            "@@ -1,5 +1,5 @@", " 1", "-2", "+two", " 3", " 4", " 5",
            "@@ -15,6 +15,6 @@", " 15", " 16", " 17", "-18", "+eighteen", " 19", " 20",
        ])
        // Five unchanged lines between a removal and an insertion: one hunk.
        #expect(TextDiff.unified("1\n2\n3\n4\n5\n6\n7\n8\n", "1\n2\n4\n5\n6\n7\n8\n9\n", path: "m") == [
            "--- a/m", "+++ b/m", "@@ -1,8 +1,8 @@", " 1", " 2", "-3", " 4", " 5", " 6", " 7", " 8", "+9",
        ])
    }

    @Test func textDiffMarksAMissingFinalNewlineAndEmptyFiles() {
        #expect(TextDiff.unified("one\ntwo", "one\ntwo\n", path: "f") == [
            "--- a/f", "+++ b/f", "@@ -1,2 +1,2 @@", " one", "-two", "\\ No newline at end of file", "+two",
        ])
        #expect(TextDiff.unified("", "x\n", path: "f") == ["--- a/f", "+++ b/f", "@@ -0,0 +1 @@", "+x"])
        #expect(TextDiff.unified("x\n", "", path: "f") == ["--- a/f", "+++ b/f", "@@ -1 +0,0 @@", "-x"])
    }

    @Test func textDiffIsCappedAtItsLimit() {
        let before = (0..<300).map { "old \($0)\n" }.joined()
        let after = (0..<300).map { "new \($0)\n" }.joined()
        let lines = TextDiff.unified(before, after, path: "f")
        // 2 header lines + 1 hunk header + 600 changed lines, cut to 200.
        #expect(lines.count == 201)
        #expect(lines[2] == "@@ -1,300 +1,300 @@")
        #expect(lines[199] == "-old 196")
        #expect(lines[200] == "... 403 more lines")
        #expect(TextDiff.unified(before, after, path: "f", limit: 5) == ["--- a/f", "+++ b/f", "@@ -1,300 +1,300 @@", "-old 0", "-old 1", "... 598 more lines"])
    }

    // MARK: - JSONDifference

    @Test func jsonDifferencesAreNamedByPathInKeyOrder() throws {
        let before = #"""
        {"architecture":"amd64","config":{"Env":["PATH=/usr/bin","A=1"],"Labels":{"a":"1"},"User":"app"},
         "history":[{"created":"x"}],"rootfs":{"diff_ids":["sha256:1"],"type":"layers"},"size":1,"kind":[1]}
        """#
        let after = #"""
        {"os":"linux","architecture":"amd64","config":{"Env":["PATH=/usr/bin","A=2","B=3"],"User":"app",
         "Labels":{"a":"1","org.opencontainers.image.revision":"abc"}},"history":[{"created":"y","empty_layer":true}],
         "size":"1","kind":{"x":null}}
        """#
        #expect(try JSONDifference.compare(Array(before.utf8), Array(after.utf8)) == [
            #"$.config.Env[1]: "A=1" -> "A=2""#,
            #"$.config.Env[2]: (none) -> "B=3""#,
            #"$.config.Labels["org.opencontainers.image.revision"]: (none) -> "abc""#,
            #"$.history[0].created: "x" -> "y""#,
            #"$.history[0].empty_layer: (none) -> true"#,
            #"$.kind: [1] -> {"x":null}"#,
            #"$.os: (none) -> "linux""#,
            #"$.rootfs: {"diff_ids":["sha256:1"],"type":"layers"} -> (none)"#,
            #"$.size: 1 -> "1""#,
        ])
        #expect(try JSONDifference.compare(Array(before.utf8), Array(before.utf8)) == [])
    }

    @Test func jsonDifferencesAreCappedAndInvalidJSONIsAnError() throws {
        let before = "[" + (0..<10).map(String.init).joined(separator: ",") + "]"
        let after = "[" + (10..<20).map(String.init).joined(separator: ",") + "]"
        #expect(try JSONDifference.compare(Array(before.utf8), Array(after.utf8), limit: 2) == [
            "$[0]: 0 -> 10", "$[1]: 1 -> 11", "... 8 more differences",
        ])
        #expect(throws: PipelineError.self) { try JSONDifference.compare(Array("{".utf8), Array("{}".utf8), what: "image config") }
    }
}
