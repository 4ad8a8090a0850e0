import Foundation
import Testing
import TestSupport
@testable import Pipeline
import Provisioners

/// The changed environment of `bake verify`'s rebuild, as the processes it starts see it.
@Suite(.enabled(if: Host.canRun(root: true), "needs root (UTS and mount namespaces)"))
struct VerifyEnvironmentTests {
    @Test func theRebuildSeesAnotherHostnameFileAndResolvConfWhileTheHostKeepsItsOwn() throws {
        let dir = TemporaryDirectory()
        let hostname = try? Fixture.read("/etc/hostname")
        let resolv = try? Fixture.read("/etc/resolv.conf")
        let mounts = HostState.mounts(under: "/etc/")
        var binds: [ChangedHostProcess.FileBind] = []
        for (index, replacement) in VerifyEnvironment.hostFileReplacements().enumerated() {
            try Fixture.write(dir.at("\(index)"), replacement.contents)
            binds.append(ChangedHostProcess.FileBind(source: dir.at("\(index)"), target: replacement.target))
        }
        let seen = dir.at("seen")
        var process = ChangedHostProcess(
            arguments: ["/bin/sh", "-c", "hostname > \(seen); cat /etc/hostname /etc/resolv.conf >> \(seen) 2>/dev/null; true"],
            environment: ["PATH": "/usr/bin:/bin"], hostname: VerifyEnvironment.hostname, umask: 0o022)
        process.binds = binds
        let status = try process.run()
        #expect(status == 0)
        let lines = try Fixture.read(seen)
        #expect(lines.hasPrefix("bake-verify-elsewhere\n"))
        if hostname != nil {
            #expect(lines.hasPrefix("bake-verify-elsewhere\nbake-verify-elsewhere\n"), "\(lines)")
        }
        if let resolv {
            // The same name servers (the network still works), in other bytes.
            #expect(lines.hasSuffix(resolv + (resolv.hasSuffix("\n") ? "" : "\n") + "# bake verify: the host's name servers, in another file\n"), "\(lines)")
        }
        // Nothing reached the host: its files and mounts are as they were.
        #expect((try? Fixture.read("/etc/hostname")) == hostname)
        #expect((try? Fixture.read("/etc/resolv.conf")) == resolv)
        #expect(HostState.mounts(under: "/etc/") == mounts)
    }
}
