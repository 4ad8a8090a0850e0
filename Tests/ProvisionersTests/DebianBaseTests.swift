import Foundation
import Testing
import TestSupport
@testable import Provisioners

/// What bake does to the root mmdebstrap made before it becomes the base's layer.
struct DebianBaseTests {
    @Test func theBuildMachinesNameAndNameServersAreNotPartOfTheBase() throws {
        let dir = TemporaryDirectory()
        let root = dir.at("root")
        // What mmdebstrap copies from the host, next to what the packages installed.
        try Fixture.write(root + "/etc/hostname", "build-host-17\n")
        try Fixture.write(root + "/etc/resolv.conf", "nameserver 10.255.255.53\n")
        try Fixture.write(root + "/etc/hosts", "127.0.0.1 localhost\n")
        try Fixture.write(root + "/etc/host.conf", "multi on\n")
        try DebianBase.removeHostFiles(root: root)
        #expect(!FileManager.default.fileExists(atPath: root + "/etc/hostname"))
        #expect(!FileManager.default.fileExists(atPath: root + "/etc/resolv.conf"))
        #expect(try Fixture.read(root + "/etc/hosts") == "127.0.0.1 localhost\n")
        #expect(try Fixture.read(root + "/etc/host.conf") == "multi on\n")
        // A host without them (or a second pass) is fine.
        try DebianBase.removeHostFiles(root: root)
    }
}
