import Foundation
import Testing
import TestSupport

/// The store survives kills and concurrent bakes.
@Suite struct StoreSafetyTests {
    /// A three-image pipeline with enough to write that kills land mid-work.
    static func heavyProject(at path: String) throws {
        try Fixture.write(path + "/images/base/stage.yaml", "from: scratch\nsteps:\n  - copy: root/\n    to: /\n")
        try Fixture.write(path + "/images/mid/stage.yaml", "from: base\nsteps:\n  - copy: data/\n    to: /data/\n  - remove: [/data/0]\n")
        try Fixture.write(path + "/images/top/stage.yaml", "from: mid\nsteps:\n  - copy: site/\n    to: /srv/\n")
        var state: UInt64 = 42
        for folder in ["base/root/usr/share", "mid/data", "top/site"] {
            for index in 0..<300 {
                var bytes = [UInt8](repeating: 0, count: 20_000)
                for i in stride(from: 0, to: bytes.count, by: 8) {
                    state = state &* 6364136223846793005 &+ 1442695040888963407
                    bytes[i] = UInt8(truncatingIfNeeded: state >> 56)
                }
                try Fixture.write(path + "/images/\(folder)/\(index % 10)/\(index)", bytes)
            }
        }
    }

    /// Starts `bake --progress json build --no-cache top`, waits for its `events`-th event,
    /// waits `extra` more, and kills it with SIGKILL. Returns true if it died by the signal.
    static func killBuild(in project: String, afterEvents events: Int, extra: Double) throws -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: BakeCLI.binary)
        process.arguments = ["--progress", "json", "build", "--no-cache", "top"]
        process.currentDirectoryURL = URL(fileURLWithPath: project)
        process.environment = BakeCLI.baseEnvironment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        var seen = 0
        var buffer = Data()
        while seen < events {
            let chunk = pipe.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            buffer.append(chunk)
            seen = buffer.filter { $0 == 0x0a }.count
        }
        if extra > 0 { Thread.sleep(forTimeInterval: extra) }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        return process.terminationReason == .uncaughtSignal
    }

    @Test func killingBakeAtAnyMomentLeavesAStoreThatWorks() throws {
        let dir = TemporaryDirectory()
        let project = dir.at("p")
        try Self.heavyProject(at: project)
        // The digests an uninterrupted build gives, in another store.
        let reference = try BakeCLI.run(["--store", dir.at("reference"), "build", "top"], in: project)
        #expect(reference.status == 0, "\(reference.stderr)")
        let expected = BakeCLI.digests(reference.stdout)
        #expect(expected.count == 3)

        // A full build emits 12 events before "done" (3 image-start, 4 step-start, 4 step,
        // ...); kill after each of them, at once and a little later, so the kills land in
        // every phase: creating the store, hashing inputs, writing and renaming layers,
        // writing configs, manifests, cache entries, the index and build records.
        var killed = 0
        var attempts = 0
        for events in 0..<12 {
            for extra in [0.0, 0.004] {
                attempts += 1
                if try Self.killBuild(in: project, afterEvents: events, extra: extra) { killed += 1 }
                if FileManager.default.fileExists(atPath: project + "/.bake/oci/oci-layout") {
                    let fsck = try BakeCLI.run(["fsck"], in: project)
                    #expect(fsck.status == 0, "after a kill at event \(events) + \(extra)s: \(fsck.stderr)")
                }
            }
        }
        #expect(killed >= 20, "only \(killed) of \(attempts) builds were killed mid-way")
        let final = try BakeCLI.run(["build", "top"], in: project)
        #expect(final.status == 0, "\(final.stderr)")
        #expect(BakeCLI.digests(final.stdout) == expected)
        #expect(try BakeCLI.run(["fsck"], in: project).status == 0)
    }

    @Test func twoConcurrentBuildsOnOneStoreBothSucceed() throws {
        let dir = TemporaryDirectory()
        let project = dir.at("p")
        try Self.heavyProject(at: project)
        func launch(_ arguments: [String]) throws -> (Process, String, String) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: BakeCLI.binary)
            process.arguments = arguments
            process.currentDirectoryURL = URL(fileURLWithPath: project)
            process.environment = BakeCLI.baseEnvironment
            let out = dir.at("out-\(UUID().uuidString)")
            let err = dir.at("err-\(UUID().uuidString)")
            _ = FileManager.default.createFile(atPath: out, contents: nil)
            _ = FileManager.default.createFile(atPath: err, contents: nil)
            process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
            try process.run()
            return (process, out, err)
        }
        let first = try launch(["--progress", "plain", "build", "top"])
        let second = try launch(["--progress", "plain", "build", "top"])
        first.0.waitUntilExit()
        second.0.waitUntilExit()
        #expect(first.0.terminationStatus == 0 && second.0.terminationStatus == 0)
        let outputs = try [first.1, second.1].map { BakeCLI.digests(try Fixture.read($0)) }
        #expect(outputs[0].count == 3 && outputs[0] == outputs[1])
        let errors = try [first.2, second.2].map { try Fixture.read($0) }
        #expect(errors.contains { $0.contains("waiting for another bake process to release the store lock") }, "\(errors)")
        #expect(try BakeCLI.run(["fsck"], in: project).status == 0)
    }

    @Test func gcFreesWhatNothingRefersToAndKeepsWhatIsCached() throws {
        let dir = TemporaryDirectory()
        let project = dir.at("p")
        try BakeCLI.toyProject(at: project)
        _ = try BakeCLI.build(["app"], in: project)
        // Debris: a blob nothing names, and a write a killed bake left behind.
        let orphan = Array(repeating: UInt8(7), count: 5000)
        let orphanDigest = try Command.run(["sh", "-c", "head -c 5000 /dev/zero | tr '\\0' '\\7' | sha256sum"]).stdout.prefix(64)
        try Fixture.write(project + "/.bake/oci/blobs/sha256/\(orphanDigest)", orphan)
        try Fixture.write(project + "/.bake/tmp/blob-XyZ123", "half a layer")
        let gc = try BakeCLI.run(["gc"], in: project)
        #expect(gc.status == 0, "\(gc.stderr)")
        #expect(gc.stdout.hasPrefix("removed 1 blob, freed 5.0 KB; kept "), "\(gc.stdout)")
        #expect(!FileManager.default.fileExists(atPath: project + "/.bake/tmp/blob-XyZ123"))
        #expect(try BakeCLI.run(["fsck"], in: project).status == 0)
        // Everything cached is still there: the next build is all hits.
        #expect(RebuildChainTests.statuses(try BakeCLI.build(["app"], in: project)).cached == RebuildChainTests.all)
        // A second gc finds nothing more.
        #expect(try BakeCLI.run(["gc"], in: project).stdout.hasPrefix("removed 0 blobs, freed 0 B"))
    }

    /// A store on a FUSE file system (disorderfs, as reproducible-builds.org uses): overlayfs
    /// cannot use it, and the error says which file system it is and how to move the store,
    /// with exit 2 and the store as it was.
    @Test(.enabled(if: Host.canRun(tools: ["disorderfs", "fusermount", "busybox"], root: true), "needs root, disorderfs and busybox-static"))
    func aStoreOnAFileSystemOverlayfsCannotUseIsNamedWithTheFix() throws {
        let dir = TemporaryDirectory()
        let project = dir.at("p")
        try BusyboxProject.write(at: project, images: ["app": "from: tools\nsteps:\n  - run: echo hi > /hi\n"])
        try Fixture.mkdir(dir.at("backing"))
        try Fixture.mkdir(dir.at("fuse"))
        // disorderfs in the foreground (-f) as a child with no pipes: a daemon that kept the
        // test's output pipes would keep the test waiting.
        let fuse = Process()
        fuse.executableURL = URL(fileURLWithPath: "/usr/bin/disorderfs")
        fuse.arguments = ["-f", "--quiet", dir.at("backing"), dir.at("fuse")]
        fuse.standardInput = FileHandle.nullDevice
        fuse.standardOutput = FileHandle.nullDevice
        fuse.standardError = FileHandle.nullDevice
        try fuse.run()
        defer {
            _ = try? Command.run(["fusermount", "-u", "-z", dir.at("fuse")])
            fuse.terminate()
            fuse.waitUntilExit()
        }
        let mounted = { (try? Command.run(["mountpoint", "-q", dir.at("fuse")]))?.status == 0 }
        let deadline = Date().addingTimeInterval(20)
        while !mounted() && Date() < deadline { usleep(50_000) }
        try #require(mounted(), "disorderfs did not mount")
        let store = dir.at("fuse/store")
        let result = try BakeCLI.run(["--store", store, "build", "app"], in: project)
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains("is on a fuse.disorderfs file system (mounted at \(dir.at("fuse")))"), "\(result.stderr)")
        #expect(result.stderr.contains("overlayfs cannot use") && result.stderr.contains("--store DIR"), "\(result.stderr)")
        // The same project with a store on a local file system builds.
        #expect(try BakeCLI.run(["build", "app"], in: project).status == 0)
    }
}
