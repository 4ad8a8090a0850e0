import Foundation
import Testing
import TestSupport

/// The same inputs give the same bytes, wherever and however they are checked out.
@Suite struct ReproducibilityTests {
    @Test func twoClonesInOtherFoldersWithOtherMtimesAndUmaskBuildIdenticalImages() throws {
        let first = TemporaryDirectory("bake-clone-a")
        let second = TemporaryDirectory("bake-clone-b")
        let one = first.at("one")
        let two = second.at("somewhere/much/deeper/two")
        try BakeCLI.toyProject(at: one)
        try BakeCLI.toyProject(at: two)
        // The second checkout: every file touched at a different time, as a fresh clone would be,
        // and group/other permissions stripped, as a checkout under umask 077 would have them.
        var seed = 12345
        let files = try Command.shell("find '\(two)/images' -mindepth 1").stdout.split(separator: "\n")
        #expect(files.count > 10)
        for file in files {
            seed = (seed &* 1103515245 &+ 12345) & 0x7fffffff
            Fixture.setMtime(String(file), seconds: 1_000_000_000 + seed % 500_000_000)
        }
        #expect(try Command.shell("chmod -R go-rwx '\(two)/images'").status == 0)

        let a = try BakeCLI.run(["build", "app"], in: one, umask: "022", environment: ["TZ": "UTC"])
        let b = try BakeCLI.run(["build", "app"], in: two, umask: "077", environment: ["TZ": "Asia/Tokyo", "LANG": "de_DE.UTF-8"])
        #expect(a.status == 0, "\(a.stderr)")
        #expect(b.status == 0, "\(b.stderr)")
        let digestsA = BakeCLI.digests(a.stdout)
        #expect(digestsA.keys.sorted() == ["app", "app-base", "base"])
        #expect(digestsA == BakeCLI.digests(b.stdout))
        // Not just the manifests: the very same set of blobs.
        let blobsA = try FileManager.default.contentsOfDirectory(atPath: one + "/.bake/oci/blobs/sha256").sorted()
        let blobsB = try FileManager.default.contentsOfDirectory(atPath: two + "/.bake/oci/blobs/sha256").sorted()
        #expect(blobsA == blobsB)
        // And a rebuild in place gives them again.
        let again = try BakeCLI.run(["build", "app"], in: one)
        #expect(BakeCLI.digests(again.stdout) == digestsA)
    }

    @Test func sourceDateEpochSetsTheTimeAndChangesTheDigests() throws {
        let dir = TemporaryDirectory()
        try BakeCLI.toyProject(at: dir.at("p"))
        let plain = try BakeCLI.run(["build", "base"], in: dir.at("p"))
        let dated = try BakeCLI.run(["build", "base"], in: dir.at("p"), environment: ["SOURCE_DATE_EPOCH": "1700000000"])
        #expect(plain.status == 0 && dated.status == 0)
        #expect(BakeCLI.digests(plain.stdout)["base"] != BakeCLI.digests(dated.stdout)["base"])
        let inspect = try BakeCLI.run(["inspect", "base", "--json"], in: dir.at("p"))
        #expect(inspect.stdout.contains(#""created": "2023-11-14T22:13:20Z""#))
    }
}
