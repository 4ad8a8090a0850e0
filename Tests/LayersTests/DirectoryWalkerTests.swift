import Foundation
import Testing
import TestSupport
@testable import Layers

@Suite struct DirectoryWalkerTests {
    @Test func visitsInCanonicalOrderWhateverTheOrderOfCreation() throws {
        let dir = TemporaryDirectory()
        // Created in an order unrelated to the sort; readdir on ext4 returns hash order.
        let names = ["zeta", "a-b", "B", "a/x", "a/x/deep", "a/.hidden", "ä", "a.c", "_u", "1", "a/X", "b/c/d/e"]
        for name in names { try Fixture.write(dir.at(name) + (name.hasSuffix("x") || name == "a/X" ? "/f" : ""), name) }
        var visited: [String] = []
        try DirectoryWalker.walk(Array(dir.path.utf8)) { visited.append($0.path.description) }
        let expected = visited.map { try! RelativePath($0) }.sorted().map(\.description)
        #expect(visited == expected)
        #expect(visited.first == "1")
        #expect(visited.firstIndex(of: "a/x/deep")! < visited.firstIndex(of: "a-b")!)
        #expect(visited.count == 18)
    }

    @Test func neverFollowsSymlinks() throws {
        let dir = TemporaryDirectory()
        let outside = TemporaryDirectory()
        try Fixture.write(outside.at("secret"), "s")
        try Fixture.symlink(outside.path, at: dir.at("link"))
        var visited: [(String, FileStatus.Kind)] = []
        try DirectoryWalker.walk(Array(dir.path.utf8)) { visited.append(($0.path.description, $0.status.kind)) }
        #expect(visited.count == 1)
        #expect(visited.first?.0 == "link" && visited.first?.1 == .symlink)
    }
}

/// The test helpers must not change the host: Fixture.mkdir on a folder that exists (such
/// as /tmp) leaves its mode alone.
@Suite struct FixtureSafetyTests {
    @Test func mkdirLeavesAnExistingFoldersModeAlone() throws {
        let dir = TemporaryDirectory()
        let folder = dir.at("sticky")
        try Fixture.mkdir(folder, mode: 0o1777)
        try Fixture.mkdir(folder)
        var status = stat()
        #expect(stat(folder, &status) == 0)
        #expect(status.st_mode & 0o7777 == 0o1777)
    }
}
