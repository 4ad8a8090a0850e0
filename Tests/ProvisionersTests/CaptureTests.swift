import Foundation
import Glibc
import Testing
import TestSupport
@testable import Layers
@testable import Provisioners

/// A real overlayfs upper dir, made by a command in the sandbox, turned into layer entries.
@Suite(.enabled(if: Host.canRun(tools: ["busybox"], root: true)))
struct CaptureTests {
    static let epoch: Int64 = 1_700_000_000

    /// A busybox lower dir with a few files to change, and its description as an image.
    static func lower(_ dir: TemporaryDirectory) throws -> (OverlayMachine, ImageFilesystem) {
        let root = dir.at("lower")
        try Busybox.lower(at: root)
        for folder in ["proc", "dev", "tmp", "run", "srv", "data", "var/lib/apt/lists"] { try Fixture.mkdir(root + "/" + folder) }
        for (name, content) in [("etc/keep", "same"), ("etc/change", "old"), ("etc/gone", "x"), ("etc/touched", "t"),
                                ("data/a", "a"), ("data/b", "b")] {
            try Fixture.write(root + "/" + name, content)
        }
        try Fixture.symlink("etc/keep", at: root + "/link")
        let image = ImageFilesystem()
        var entries: [TarEntry] = []
        try DirectoryWalker.walk(Array(root.utf8)) { file in
            let status = file.status
            let kind: TarEntry.Kind
            switch status.kind {
            case .directory: kind = .directory
            case .symlink: kind = .symlink(target: try FileSystem.readSymlink(file.hostPath))
            default: kind = .regular(size: status.size)
            }
            entries.append(TarEntry(path: file.path, kind: kind, mode: status.permissions, uid: status.uid, gid: status.gid, mtime: 0))
        }
        image.apply(layer: entries, index: 0)
        return (try OverlayMachine(lowers: [root], scratch: dir.at("machine")), image)
    }

    static func capture(_ machine: OverlayMachine, _ image: ImageFilesystem, lower: String) throws -> ([TarEntry], [UInt8]) {
        let sink = ArraySink()
        let tar = TarWriter(sink: sink)
        let entries = try OverlayCapture(upper: machine.upper, lower: image, lowerFolder: { _ in lower }, epoch: epoch)
            .write(into: tar)
        try tar.finish()
        return (entries, sink.bytes)
    }

    @Test func onlyRealChangesAreCapturedWithWhiteoutsAndOpaqueFolders() throws {
        let dir = TemporaryDirectory()
        let (machine, image) = try Self.lower(dir)
        defer { machine.discard() }
        let (status, lines) = try Busybox.run(machine, """
            echo new > /etc/change
            rm /etc/gone
            touch /etc/touched
            chmod 644 /etc/keep
            rm -rf /data && mkdir /data && echo c > /data/c
            chmod 700 /srv
            echo h > /h1 && ln /h1 /h2
            mkdir -p /made/and && rm -rf /made
            echo later > /future && touch -d @4000000000 /future 2>/dev/null || touch -t 209901010000 /future
            ln -s /etc/keep /link2
            """)
        #expect(status == 0, "\(lines)")
        let (entries, bytes) = try Self.capture(machine, image, lower: dir.at("lower"))
        #expect(entries.map(\.listing) == [
            "d 0755 0:0 data",
            "- 0600 0:0 data/.wh..wh..opq size=0",
            "- 0644 0:0 data/c size=2",
            "d 0755 0:0 etc",
            "- 0600 0:0 etc/.wh.gone size=0",
            "- 0644 0:0 etc/change size=4",
            "- 0644 0:0 future size=6",
            "- 0644 0:0 h1 size=2",
            "h 0644 0:0 h2 link to h1",
            "l 0777 0:0 link2 -> /etc/keep",
            "d 0700 0:0 srv",
        ])
        // No mtime goes past the build time, whatever the step set.
        #expect(entries.allSatisfy { $0.mtime <= Self.epoch })
        #expect(entries.first { $0.path.description == "future" }?.mtime == Self.epoch)
        // overlayfs' own attributes never reach the layer.
        #expect(entries.allSatisfy { $0.xattrs.keys.allSatisfy { !$0.hasPrefix("trusted.overlay.") } })
        // The archive holds what the entries say, and reads back the same.
        let reader = TarReader(source: ArraySource(bytes))
        var read: [String] = []
        while let entry = try reader.next() {
            if entry.path.description == "etc/change" { #expect(try reader.readAll() == Array("new\n".utf8)) }
            read.append(entry.listing)
        }
        #expect(read == entries.map(\.listing))
    }

    @Test func replacedFoldersLinksToUnchangedFilesAndNestedModesAreCapturedWhole() throws {
        let dir = TemporaryDirectory()
        let (machine, image) = try Self.lower(dir)
        defer { machine.discard() }
        try Fixture.mkdir(dir.at("lower/srv/a/b"))
        image.apply(layer: [TarEntry(path: try RelativePath("srv/a"), kind: .directory, mode: 0o755, mtime: 0),
                            TarEntry(path: try RelativePath("srv/a/b"), kind: .directory, mode: 0o755, mtime: 0)], index: 0)
        let (status, lines) = try Busybox.run(machine, """
            rm -rf /data && mkdir -p /data/empty && echo a > /data/a && ln -s /etc/keep /data/link
            ln /etc/keep /etc/keep2
            chmod 700 /srv/a/b
            """)
        #expect(status == 0, "\(lines)")
        let (entries, _) = try Self.capture(machine, image, lower: dir.at("lower"))
        #expect(entries.map(\.listing) == [
            // /data was replaced: its new contents are all captured, even a file identical to
            // the old /data/a and a symlink, or they would vanish under the opaque marker.
            "d 0755 0:0 data",
            "- 0600 0:0 data/.wh..wh..opq size=0",
            "- 0644 0:0 data/a size=2",
            "d 0755 0:0 data/empty",
            "l 0777 0:0 data/link -> /etc/keep",
            "d 0755 0:0 etc",
            // /etc/keep was only linked, not changed: the layer holds the new name as a file of
            // its own, not a link to a path outside the layer.
            "- 0644 0:0 etc/keep2 size=4",
            // The parents of a changed folder stay, with their modes.
            "d 0755 0:0 srv",
            "d 0755 0:0 srv/a",
            "d 0700 0:0 srv/a/b",
        ], "\(entries.map(\.listing))")
    }

    @Test func theSameChangeCapturedTwiceIsTheSameBytes() throws {
        var archives: [[UInt8]] = []
        for _ in 0..<2 {
            let dir = TemporaryDirectory()
            let (machine, image) = try Self.lower(dir)
            defer { machine.discard() }
            // Files made in a different order each time, and after a pause: neither shows.
            let (status, _) = try Busybox.run(machine, archives.isEmpty
                ? "mkdir /out; for f in b a c; do echo $f > /out/$f; done; rm /etc/gone"
                : "sleep 1; rm /etc/gone; mkdir /out; for f in c a b; do echo $f > /out/$f; done")
            #expect(status == 0)
            archives.append(try Self.capture(machine, image, lower: dir.at("lower")).1)
        }
        #expect(archives[0] == archives[1])
    }

    @Test func aStepThatChangesNothingCapturesNothing() throws {
        let dir = TemporaryDirectory()
        let (machine, image) = try Self.lower(dir)
        defer { machine.discard() }
        let (status, _) = try Busybox.run(machine, "cat /etc/keep > /dev/null; touch /etc/keep; echo x > /tmp/scratch; touch /new && rm /new")
        #expect(status == 0)
        #expect(try Self.capture(machine, image, lower: dir.at("lower")).0.isEmpty)
    }

    /// `apt-get update` alone: all it wrote is normalised away, and the folders overlayfs
    /// copied up on the way (/var, /var/lib, /var/lib/apt) are no change either.
    @Test func aStepWhoseOnlyOutputIsNormalisedAwayCapturesNothing() throws {
        let dir = TemporaryDirectory()
        let (machine, image) = try Self.lower(dir)
        defer { machine.discard() }
        let (status, _) = try Busybox.run(machine, "echo release > /var/lib/apt/lists/deb.debian.org_InRelease")
        #expect(status == 0)
        let changed = try Normaliser.apply(toUpper: machine.upper, epoch: Self.epoch, below: { image.entry(at: $0) != nil })
        #expect(changed == ["/var/lib/apt/lists/deb.debian.org_InRelease"])
        #expect(try Self.capture(machine, image, lower: dir.at("lower")).0.isEmpty)
    }
}
