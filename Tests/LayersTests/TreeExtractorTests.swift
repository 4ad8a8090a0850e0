import Foundation
import Testing
import TestSupport
@testable import Layers

@Suite struct TreeExtractorTests {
    func extract(_ layers: [[TarTest.Item]], into root: String, whiteouts: TreeExtractor.WhiteoutHandling = .apply) throws {
        let extractor = try TreeExtractor(root: root, whiteouts: whiteouts)
        for layer in layers {
            try extractor.extract(layer: TarReader(source: ArraySource(try TarTest.archive(layer))))
        }
        try extractor.finish()
    }

    func listing(_ root: String) throws -> [String] {
        try Command.shell("cd '\(root)' && find . -mindepth 1 -printf '%p %M %U:%G %s %l\\n' | sort").stdout
            .split(separator: "\n").map(String.init)
    }

    @Test(.enabled(if: Host.canRun(root: true)))
    func appliesLayersWithWhiteoutsOwnersModesAndTimes() throws {
        let dir = TemporaryDirectory()
        let base: [TarTest.Item] = [
            TarTest.item("etc", .directory),
            TarTest.file("etc/motd", "hi"),
            TarTest.file("etc/passwd", "root"),
            TarTest.item("srv", .directory, uid: 10, gid: 20),
            TarTest.file("srv/old", "old", uid: 10, gid: 20),
            TarTest.item("srv/keep", .directory),
            TarTest.file("srv/keep/x", "x"),
            TarTest.file("bin/tool", "#!", mode: 0o4755),
            TarTest.item("bin/hard", .hardlink(target: TarTest.path("bin/tool")), mode: 0o4755),
            TarTest.item("bin/link", .symlink(target: Array("tool".utf8)), mode: 0o777),
        ]
        let top: [TarTest.Item] = [
            TarTest.item("etc", .directory),
            TarTest.item("etc/.wh.motd", .regular(size: 0), mode: 0o600),
            TarTest.item("srv", .directory, uid: 10, gid: 20, mtime: 12345),
            TarTest.item("srv/.wh..wh..opq", .regular(size: 0), mode: 0o600),
            TarTest.file("srv/new", "new"),
        ]
        try extract([base, top], into: dir.path)
        #expect(try listing(dir.path) == [
            "./bin drwxr-xr-x 0:0 4096 ",
            "./bin/hard -rwsr-xr-x 0:0 2 ",
            "./bin/link lrwxrwxrwx 0:0 4 tool",
            "./bin/tool -rwsr-xr-x 0:0 2 ",
            "./etc drwxr-xr-x 0:0 4096 ",
            "./etc/passwd -rw-r--r-- 0:0 4 ",
            "./srv drwxr-xr-x 10:20 4096 ",
            "./srv/new -rw-r--r-- 0:0 3 ",
        ])
        #expect(try FileSystem.lstatPath(dir.at("bin/hard")).inode == FileSystem.lstatPath(dir.at("bin/tool")).inode)
        #expect(try FileSystem.lstatPath(dir.at("srv")).modificationSeconds == 12345)
    }

    @Test(.enabled(if: Host.canRun(root: true)))
    func overlayModeRecordsWhiteoutsTheOverlayfsWay() throws {
        let dir = TemporaryDirectory()
        try extract([[
            TarTest.item("etc", .directory),
            TarTest.item("etc/.wh.motd", .regular(size: 0), mode: 0o600),
            TarTest.item("srv", .directory),
            TarTest.item("srv/.wh..wh..opq", .regular(size: 0), mode: 0o600),
        ]], into: dir.path, whiteouts: .overlay)
        let whiteout = try FileSystem.lstatPath(dir.at("etc/motd"))
        #expect(whiteout.kind == .characterDevice)
        #expect(whiteout.rdev == 0)
        let attributes = try FileSystem.extendedAttributes(Array(dir.at("srv").utf8))
        #expect(attributes["trusted.overlay.opaque"] == Array("y".utf8))
    }

    @Test func refusesToWriteThroughASymlink() throws {
        let dir = TemporaryDirectory()
        let outside = TemporaryDirectory()
        let layer: [TarTest.Item] = [
            TarTest.item("escape", .symlink(target: Array(outside.path.utf8)), mode: 0o777),
            TarTest.file("escape/pwned", "gotcha"),
        ]
        #expect(throws: LayersError.self) { try extract([layer], into: dir.path) }
        #expect(!FileManager.default.fileExists(atPath: outside.at("pwned")))
    }

    @Test func refusesASymlinkPlantedByAnEarlierLayer() throws {
        let dir = TemporaryDirectory()
        let outside = TemporaryDirectory()
        let first: [TarTest.Item] = [TarTest.item("etc", .symlink(target: Array(outside.path.utf8)), mode: 0o777)]
        let second: [TarTest.Item] = [TarTest.file("etc/passwd", "root::0:0::/:/bin/sh")]
        #expect(throws: LayersError.self) { try extract([first, second], into: dir.path) }
        #expect(!FileManager.default.fileExists(atPath: outside.at("passwd")))
    }

    @Test func refusesHardLinksThroughSymlinks() throws {
        let dir = TemporaryDirectory()
        let outside = TemporaryDirectory()
        try Fixture.write(outside.at("secret"), "secret")
        let layer: [TarTest.Item] = [
            TarTest.item("out", .symlink(target: Array(outside.path.utf8)), mode: 0o777),
            TarTest.item("stolen", .hardlink(target: TarTest.path("out/secret")), mode: 0o644),
        ]
        #expect(throws: LayersError.self) { try extract([layer], into: dir.path) }
        #expect(!FileManager.default.fileExists(atPath: dir.at("stolen")))
    }

    @Test func replacesAFileWithAFolderAndBack() throws {
        let dir = TemporaryDirectory()
        try extract([
            [TarTest.file("a", "file"), TarTest.item("b", .directory), TarTest.file("b/inner", "x")],
            [TarTest.item("a", .directory), TarTest.file("a/now-a-dir", "y"), TarTest.file("b", "now a file")],
        ], into: dir.path)
        #expect(try FileSystem.lstatPath(dir.at("a")).kind == .directory)
        #expect(try Fixture.read(dir.at("a/now-a-dir")) == "y")
        #expect(try Fixture.read(dir.at("b")) == "now a file")
    }
}

@Suite struct ImageFilesystemTests {
    @Test func mergesLayersWithWhiteouts() {
        let tree = ImageFilesystem()
        tree.apply(layer: [
            TarTest.item("etc", .directory).entry,
            TarTest.file("etc/motd", "x").entry,
            TarTest.item("srv", .directory).entry,
            TarTest.file("srv/a", "a").entry,
            TarTest.file("lonely/child", "implies its folder").entry,
        ], index: 0)
        tree.apply(layer: [
            TarTest.item("etc/.wh.motd", .regular(size: 0)).entry,
            TarTest.item("srv/.wh..wh..opq", .regular(size: 0)).entry,
            TarTest.file("srv/b", "b").entry,
        ], index: 1)
        #expect(tree.allEntries().map(\.path.description) == ["etc", "lonely", "lonely/child", "srv", "srv/b"])
        #expect(tree.layerIndex(at: TarTest.path("srv/b")) == 1)
        #expect(tree.entry(at: TarTest.path("lonely"))?.isDirectory == true)
    }

    @Test func resolvesSymlinksInsideTheImage() throws {
        let tree = ImageFilesystem()
        tree.apply(layer: [
            TarTest.item("usr", .directory).entry,
            TarTest.item("usr/bin", .directory).entry,
            TarTest.item("bin", .symlink(target: Array("usr/bin".utf8))).entry,
            TarTest.item("abs", .symlink(target: Array("/usr/bin".utf8))).entry,
            TarTest.item("up", .symlink(target: Array("../../../../usr".utf8))).entry,
            TarTest.item("loop", .symlink(target: Array("loop".utf8))).entry,
        ], index: 0)
        #expect(try tree.resolve(TarTest.path("bin/sh"), followFinal: false).description == "usr/bin/sh")
        #expect(try tree.resolve(TarTest.path("abs/sh"), followFinal: false).description == "usr/bin/sh")
        #expect(try tree.resolve(TarTest.path("up/bin"), followFinal: true).description == "usr/bin")
        #expect(try tree.resolve(TarTest.path("bin"), followFinal: false).description == "bin")
        #expect(try tree.resolve(TarTest.path("bin"), followFinal: true).description == "usr/bin")
        #expect(throws: LayersError.self) { try tree.resolve(TarTest.path("loop/x"), followFinal: false) }
    }
}
