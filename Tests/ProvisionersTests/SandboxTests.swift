import Foundation
import Glibc
import Testing
import TestSupport
@testable import Layers
@testable import Provisioners

/// What a command in the sandbox can and cannot do (root only: namespaces and mounts).
@Suite(.enabled(if: Host.canRun(tools: ["busybox"], root: true)))
struct SandboxTests {
    @Test func aCommandSeesAFixedWorldAndItsChangesLandInTheUpperDir() throws {
        let dir = TemporaryDirectory()
        let machine = try Busybox.machine(dir)
        try Fixture.write(dir.at("lower/etc/old"), "old")
        let (status, lines) = try Busybox.run(machine, "hostname; id -u; ps | wc -l; echo new > /new; rm /etc/old; mkdir -p /a/b; echo $PATH")
        #expect(status == 0)
        // Its own hostname; PID 1 (the sandbox's init), the shell, ps, wc: nothing of the host.
        #expect(lines.first == "bake")
        #expect(lines[1] == "0")
        #expect((Int(lines[2].trimmingCharacters(in: .whitespaces)) ?? 99) <= 6, "\(lines)")
        #expect(try Fixture.read(machine.upper + "/new") == "new\n")
        let whiteout = try FileSystem.lstatPath(machine.upper + "/etc/old")
        #expect(whiteout.kind == .characterDevice && whiteout.rdev == 0)
        #expect(FileManager.default.fileExists(atPath: machine.upper + "/a/b"))
        #expect(try Fixture.read(dir.at("lower/etc/old")) == "old")
    }

    @Test func withoutNetworkAServerOnTheHostIsUnreachableAndWithItIsReachable() throws {
        let server = try PongServer()
        let dir = TemporaryDirectory()
        let machine = try Busybox.machine(dir)
        // (No -T: busybox 1.35 wget crashes with a timeout set. Isolated, the connection is refused at once.)
        let fetch = "wget -q -O - http://127.0.0.1:\(server.port)/"
        let isolated = try Busybox.run(machine, fetch)
        #expect(isolated.0 != 0, "\(isolated.1)")
        let connected = try Busybox.run(machine, fetch, network: true)
        #expect(connected.0 == 0, "\(connected.1)")
        #expect(connected.1 == ["pong"])
        // Isolated, the loopback itself works (tools that talk to localhost are fine).
        let loopback = try Busybox.run(machine, "ip link 2>/dev/null | grep -c LOOPBACK || cat /proc/net/dev | grep -c lo")
        #expect(loopback.0 == 0)
    }

    @Test func mischiefStaysInside() throws {
        let dir = TemporaryDirectory()
        let machine = try Busybox.machine(dir)
        let marker = "bake-escape-\(getpid())-\(Int.random(in: 0..<1_000_000))"
        // Background processes, a classic chroot escape, a mount, and killing PID 1.
        let (status, lines) = try Busybox.run(machine, """
            sleep 31337 &
            mkdir -p /esc && chroot /esc /bin/true 2>/dev/null; cd /; cd ../../../..; touch /tmp/\(marker) /\(marker)
            mkdir -p /mnt && mount -t tmpfs none /mnt 2>/dev/null || echo "mount refused"
            kill -9 1 2>/dev/null; kill -9 -1 2>/dev/null
            echo "after kill"
            exit 4
            """)
        // PID 1 is the sandbox's own init, which the kernel shields from signals sent inside its
        // namespace; `kill -9 -1` reaches only the step's processes. The host is untouched either way.
        #expect(status == 4 || status == 137, "\(status) \(lines)")
        #expect(lines.contains("mount refused"), "\(lines)")
        #expect(!FileManager.default.fileExists(atPath: "/tmp/\(marker)"))
        #expect(!FileManager.default.fileExists(atPath: "/\(marker)"))
        #expect(FileManager.default.fileExists(atPath: machine.upper + "/\(marker)"))
        #expect(HostState.processes(containing: "sleep 31337").isEmpty)
        #expect(HostState.mounts(under: machine.scratch).isEmpty)
    }

    @Test func nothingOutlivesAFailingCommand() throws {
        let dir = TemporaryDirectory()
        let machine = try Busybox.machine(dir)
        let (status, _) = try Busybox.run(machine, "sleep 31338 & sleep 31339 & exit 3")
        #expect(status == 3)
        #expect(HostState.processes(containing: "sleep 31338").isEmpty && HostState.processes(containing: "sleep 31339").isEmpty)
        #expect(HostState.mounts(under: machine.scratch).isEmpty)
        machine.discard()
        #expect(!FileManager.default.fileExists(atPath: machine.scratch))
    }

    @Test func secretsAreReadOnlyFilesThatNeverReachTheUpperDir() throws {
        let dir = TemporaryDirectory()
        let machine = try Busybox.machine(dir)
        let (status, lines) = try Busybox.run(machine, """
            cat /run/secrets/token; echo
            echo tamper > /run/secrets/token 2>/dev/null || echo "read-only"
            ls -ln /run/secrets/token
            """, secrets: [Secret(id: "token", value: Array("s3cr3t-value".utf8))], user: UserIdentity(uid: 33, gid: 33))
        #expect(status == 0, "\(lines)")
        #expect(lines.first == "s3cr3t-value")
        #expect(lines.contains("read-only"))
        #expect(lines.last?.hasPrefix("-r--------") == true && lines.last?.contains(" 33 ") == true, "\(lines)")
        let found = try Command.run(["grep", "-r", "-l", "s3cr3t-value", machine.upper])
        #expect(found.stdout.isEmpty)
    }

    @Test func theUserAndWorkingDirectoryAreTheCommands() throws {
        let dir = TemporaryDirectory()
        let machine = try Busybox.machine(dir)
        try Fixture.mkdir(dir.at("lower/srv"))
        let (status, lines) = try Busybox.run(machine, "id -u; id -g; pwd; umask", user: UserIdentity(uid: 33, gid: 33), workdir: "/srv")
        #expect(status == 0)
        #expect(lines == ["33", "33", "/srv", "0022"])
        #expect {
            _ = try Busybox.run(machine, "true", workdir: "/nowhere")
        } throws: { error in
            "\(error)".contains("cannot enter the working directory /nowhere")
        }
    }

    @Test func aCommandRunAsAnotherUserMayOpenItsOwnStdoutAndStderrAgain() throws {
        // As nginx does for `access_log /dev/stdout`: the pipe is the command user's.
        let dir = TemporaryDirectory()
        let machine = try Busybox.machine(dir)
        let (status, lines) = try Busybox.run(machine, "echo out > /dev/stdout && echo err > /dev/stderr && ls -lnL /dev/stdout | awk '{print $3}'",
                                              user: UserIdentity(uid: 33, gid: 33))
        #expect(status == 0, "\(lines)")
        #expect(lines == ["out", "err", "33"])
    }

    @Test func aMissingProgramIsASetupErrorNotAHang() throws {
        let dir = TemporaryDirectory()
        let machine = try Busybox.machine(dir)
        #expect {
            _ = try machine.run(Command(arguments: ["/bin/nope"], environment: []), output: .lines { _ in })
        } throws: { error in
            "\(error)".contains("cannot run /bin/nope")
        }
    }

    @Test func theKernelAndTheHostsDevicesAreOutOfReach() throws {
        let dir = TemporaryDirectory()
        let machine = try Busybox.machine(dir)
        let (status, lines) = try Busybox.run(machine, """
            (echo '|/bin/true' > /proc/sys/kernel/core_pattern) 2>/dev/null || echo "core_pattern refused"
            (echo h > /proc/sysrq-trigger) 2>/dev/null || echo "sysrq refused"
            echo "kcore has $(head -c 16 /proc/kcore 2>/dev/null | wc -c) bytes"
            mknod /disk b 8 0 && (head -c 1 /disk > /dev/null 2>&1 || echo "disk refused")
            mknod /zero2 c 1 5 && (head -c 1 /zero2 > /dev/null 2>&1 || echo "node refused")
            echo "dev/zero gives $(head -c 4 /dev/zero | od -A n -t x1 | tr -d ' ')"
            echo "session $(awk '{print $6}' /proc/self/stat)"
            grep -E '^Cap(Inh|Bnd|Amb)' /proc/self/status
            """, network: true)
        #expect(status == 0, "\(lines)")
        #expect(lines == [
            "core_pattern refused", "sysrq refused", "kcore has 0 bytes", "disk refused", "node refused", "dev/zero gives 00000000",
            // Its own session (led by the sandbox's init, PID 1): no controlling terminal.
            "session 1",
            "CapInh:\t0000000000000000", "CapBnd:\t00000000a80425fb", "CapAmb:\t0000000000000000",
        ], "\(lines)")
    }

    @Test func aSymlinkWhereTheSandboxMountsSomethingIsRefused() throws {
        let dir = TemporaryDirectory()
        let outside = "/tmp/bake-escape-\(getpid())-\(Int.random(in: 0..<1_000_000))"
        try Busybox.lower(at: dir.at("lower"))
        try Fixture.symlink(outside, at: dir.at("lower/run"))
        let machine = try OverlayMachine(lowers: [dir.at("lower")], scratch: dir.at("machine"))
        #expect {
            _ = try Busybox.run(machine, "true", secrets: [Secret(id: "token", value: Array("value".utf8))])
        } throws: { error in
            "\(error)".contains("the image has a symlink where the sandbox mounts something: /run")
        }
        #expect(!FileManager.default.fileExists(atPath: outside))
        #expect(HostState.mounts(under: outside).isEmpty)
    }
}
