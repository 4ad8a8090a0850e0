import Foundation
import Testing
import OCI
import TestSupport
@testable import Layers
@testable import Pipeline

@Suite struct CacheTests {
    static func pipeline() throws -> ProjectFixture {
        let fixture = try ProjectFixture([
            "images/base/stage.yaml": "from: scratch\nsteps:\n  - copy: root/\n    to: /\n",
            "images/base/root/etc/os-release": "ID=test\n",
            "images/app/stage.yaml": "from: base\nsteps:\n  - copy: site/\n    to: /srv/\n  - copy: boot.sh\n    to: /boot\n",
            "images/app/boot.sh": "#!/bin/sh\n",
        ])
        for index in 0..<200 {
            try Fixture.write(fixture.dir.at("images/app/site/page\(index).html"), String(repeating: "<p>\(index)</p>\n", count: 50))
        }
        return fixture
    }

    /// A builder whose stat cache remembers files however recently they changed.
    static func builder(_ fixture: ProjectFixture) throws -> Builder {
        let builder = try fixture.builder()
        builder.evaluator.hasher.racySeconds = -1_000_000
        return builder
    }

    @Test func aNoOpBuildReadsNoFileAndNoLayer() throws {
        let fixture = try Self.pipeline()
        let first = try Self.builder(fixture)
        let built = try first.build(BuildOptions(targets: [], sourceDateEpoch: nil, compressionThreads: 2))
        #expect(first.evaluator.hasher.filesHashed == 202)
        #expect(ProjectFixture.cached(built).values.allSatisfy { !$0 })

        let second = try Self.builder(fixture)
        let again = try second.build(BuildOptions(targets: [], sourceDateEpoch: nil, compressionThreads: 2))
        #expect(ProjectFixture.cached(again).values.allSatisfy { $0 })
        #expect(second.evaluator.hasher.filesHashed == 0)
        #expect(second.evaluator.cache.blobsVerified == 0)
        #expect(again.map(\.manifestDescriptor) == built.map(\.manifestDescriptor))
    }

    /// With a settled source, a no-op reuses the remembered listing from the scan's
    /// fingerprint; any change to the tree must still be seen.
    @Test func theSettledFastPathMissesNoChange() throws {
        let fixture = try Self.pipeline()
        func build() throws -> [String: Bool] {
            ProjectFixture.cached(try Self.builder(fixture).build(BuildOptions(targets: [], sourceDateEpoch: nil, compressionThreads: 2)))
        }
        _ = try build()
        #expect(try build().values.allSatisfy { $0 })
        let page = fixture.dir.at("images/app/site/page5.html")
        let original = try Fixture.read(page)
        // Same size, new content.
        try Fixture.write(page, String(original.reversed()))
        let afterRewrite = try build()
        #expect(afterRewrite == ["base/1": true, "app/1": false, "app/2": false], "\(afterRewrite)")
        // A rename with the same content.
        try FileManager.default.moveItem(atPath: page, toPath: fixture.dir.at("images/app/site/page5-renamed.html"))
        #expect(try build()["app/1"] == false)
        // An executable bit.
        chmod(fixture.dir.at("images/app/site/page6.html"), 0o755)
        #expect(try build()["app/1"] == false)
        // The remembered listing lost: the slow path recomputes the same key.
        _ = try Command.shell("rm -f '\(fixture.dir.at(".bake/cache/inputs"))'/*")
        let builder = try Self.builder(fixture)
        let again = try builder.build(BuildOptions(targets: [], sourceDateEpoch: nil, compressionThreads: 2))
        #expect(ProjectFixture.cached(again).values.allSatisfy { $0 })
        #expect(builder.evaluator.hasher.filesHashed == 0)
    }

    @Test func touchingAFileRehashesOnlyItAndStillHits() throws {
        let fixture = try Self.pipeline()
        _ = try Self.builder(fixture).build(BuildOptions(targets: [], sourceDateEpoch: nil, compressionThreads: 2))
        _ = try Command.shell("touch -d @1600000100 '\(fixture.dir.at("images/app/site/page7.html"))'")
        let builder = try Self.builder(fixture)
        let images = try builder.build(BuildOptions(targets: [], sourceDateEpoch: nil, compressionThreads: 2))
        #expect(builder.evaluator.hasher.filesHashed == 1)
        #expect(ProjectFixture.cached(images).values.allSatisfy { $0 })
    }

    @Test func aChangedFileRebuildsItsStepAndWhatFollowsOnly() throws {
        let fixture = try Self.pipeline()
        _ = try fixture.build()
        try Fixture.write(fixture.dir.at("images/app/site/page3.html"), "changed")
        let images = try fixture.build()
        #expect(ProjectFixture.cached(images) == ["base/1": true, "app/1": false, "app/2": false])
        #expect(images[1].steps[0].reason == "site/page3.html changed")
        #expect(images[1].steps[1].reason == "step 1 made a different layer")
    }

    @Test func earlyCutoffARebuiltParentWithIdenticalBytesLeavesChildrenCached() throws {
        let fixture = try Self.pipeline()
        let first = try fixture.build()
        // base's cached layer is lost: base is rebuilt, comes out byte-identical, and its
        // children, keyed on its output, stay cached.
        fixture.evaluatorCache.remove(first[0].steps[0].key.digest)
        let second = try fixture.build()
        #expect(ProjectFixture.cached(second) == ["base/1": false, "app/1": true, "app/2": true])
        #expect(second[0].steps[0].reason == "not in the cache")
        #expect(second.map(\.manifestDescriptor) == first.map(\.manifestDescriptor))
        // The same across invocations: base alone with --no-cache, then the whole pipeline.
        let rebuilt = try fixture.build(["base"], noCache: true)
        #expect(ProjectFixture.cached(rebuilt) == ["base/1": false])
        #expect(ProjectFixture.cached(try fixture.build()).values.allSatisfy { $0 })
    }

    @Test func displayOnlyChangesAreNotInTheKey() throws {
        let fixture = try Self.pipeline()
        _ = try fixture.build()
        try Fixture.write(fixture.dir.at("images/app/stage.yaml"), """
            # A comment, a description, another layout and key order: nothing that changes an image.
            description: the app
            steps:
              - to: //srv/
                copy: ./site//
              - {copy: boot.sh, to: /boot}
            from: base

            """)
        #expect(ProjectFixture.cached(try fixture.build()).values.allSatisfy { $0 })
    }

    @Test func aCorruptCachedLayerIsVerifiedAndRebuiltNotTrusted() throws {
        let fixture = try Self.pipeline()
        let first = try fixture.build()
        let blob = fixture.store.blobPath(first[1].steps[0].layer.descriptor.digest)
        var bytes = try #require(FileManager.default.contents(atPath: blob))
        bytes[bytes.count - 10] ^= 0x40
        try bytes.write(to: URL(fileURLWithPath: blob))
        let builder = try fixture.builder()
        let second = try builder.build(BuildOptions(targets: [], sourceDateEpoch: nil, compressionThreads: 2))
        #expect(builder.evaluator.cache.blobsVerified == 1)
        #expect(ProjectFixture.cached(second) == ["base/1": true, "app/1": false, "app/2": true])
        #expect(second[1].steps[0].reason?.hasSuffix("is corrupt") == true)
        #expect(second.map(\.manifestDescriptor) == first.map(\.manifestDescriptor))
        try fixture.store.verifyBlob(first[1].steps[0].layer.descriptor.digest, what: "layer")
    }

    @Test func independentImagesBuildInParallelToTheSameBytes() throws {
        var files: [String: String] = ["images/base/stage.yaml": "from: scratch\nsteps:\n  - copy: f\n    to: /f\n", "images/base/f": "base"]
        for name in ["one", "two", "three", "four"] {
            files["images/\(name)/stage.yaml"] = "from: base\nsteps:\n  - copy: data/\n    to: /\(name)/\n"
            files["images/\(name)/data/x"] = String(repeating: name, count: 10_000)
        }
        let serial = try ProjectFixture(files)
        let parallel = try ProjectFixture(files)
        let a = try serial.build(jobs: 1)
        let b = try parallel.build(jobs: 4)
        #expect(a.map(\.name) == b.map(\.name))
        #expect(a.map(\.manifestDescriptor) == b.map(\.manifestDescriptor))
        #expect(try parallel.store.readIndex().refNames == ["base", "four", "one", "three", "two"])
    }

    /// Scheduling must not depend on how fast images finish: a no-op build of a chain,
    /// where each image finishes almost at once, returns every image every time.
    @Test(arguments: [1, 4])
    func everyImageIsBuiltEveryTime(jobs: Int) throws {
        let fixture = try ProjectFixture([
            "images/a/stage.yaml": "from: scratch\n",
            "images/b/stage.yaml": "from: a\n",
            "images/c/stage.yaml": "from: b\n",
            "images/d/stage.yaml": "from: a\n",
        ])
        _ = try fixture.build(jobs: jobs)
        for _ in 0..<300 {
            #expect(try fixture.build(["c", "d"], jobs: jobs).map(\.name) == ["a", "b", "c", "d"])
        }
    }

    @Test func aFailingImageStopsTheBuildAndNamesItsStep() throws {
        let fixture = try ProjectFixture([
            "images/base/stage.yaml": "from: scratch\n",
            "images/good/stage.yaml": "from: base\n",
            "images/bad/stage.yaml": "from: base\nsteps:\n  - remove: [/nothing]\n",
        ])
        #expect {
            _ = try fixture.build(jobs: 3)
        } throws: { error in
            "\(error)".hasPrefix("images/bad/stage.yaml:3:5: step 1 of bad:")
        }
    }
}
