import Foundation
import Glibc
import Synchronization
import Testing
import TestSupport
@testable import Layers
@testable import Provisioners

/// What the sandbox refuses a command beyond namespaces and capabilities: the seccomp
/// profile, resource limits, and cleanup that never follows a path the command made
/// (root only: namespaces, mounts, cgroups).
@Suite(.enabled(if: Host.canRun(tools: ["busybox", "cc"], root: true)))
struct SandboxPolicyTests {
    /// A busybox machine with the static probe at /bin/probe.
    static func machine(_ dir: TemporaryDirectory) throws -> OverlayMachine {
        try Busybox.lower(at: dir.at("lower"))
        try StaticProbe.write(at: dir.at("lower/bin/probe"))
        return try OverlayMachine(lowers: [dir.at("lower")], scratch: dir.at("machine"))
    }

    @Test func dangerousSystemCallsFailWithEPERMAndKillNothing() throws {
        let dir = TemporaryDirectory()
        let machine = try Self.machine(dir)
        let (status, lines) = try Busybox.run(machine, "/bin/probe syscalls")
        #expect(status == 0, "\(lines)")
        #expect(lines == [
            "keyctl EPERM", "add_key EPERM", "request_key EPERM", "unshare-user EPERM", "clone-user EPERM",
            // As Docker: clone3's flags are out of a filter's reach, so libc falls back to clone.
            "clone3 ENOSYS",
            "setns EPERM", "mount EPERM", "umount2 EPERM", "pivot_root EPERM", "bpf EPERM", "perf_event_open EPERM",
            "userfaultfd EPERM", "open_by_handle_at EPERM", "name_to_handle_at EPERM", "io_uring_setup EPERM",
            "personality EPERM", "clock_settime EPERM", "init_module EPERM", "kexec_load EPERM", "acct EPERM",
            "swapoff EPERM", "quotactl EPERM", "iopl EPERM", "reboot EPERM", "getpid ok",
        ], "\(lines)")
        // busybox's unshare: a new user namespace is refused; a plain fork still works.
        let unshare = try Busybox.run(machine, "unshare -U true 2>&1 || echo refused; (true) && echo forked")
        #expect(unshare.1.last == "forked" && unshare.1.contains("refused"), "\(unshare.1)")
    }

    @Test func sandboxesStartedAtOnceFromManyThreadsAllStart() throws {
        // Each sandbox's lifeline to bake travels in its own clone argument: nothing one
        // thread sets for its child can reach another thread's.
        let dir = TemporaryDirectory()
        try Busybox.lower(at: dir.at("lower"))
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { thread in
            for round in 0..<12 {
                do {
                    let machine = try OverlayMachine(lowers: [dir.at("lower")], scratch: dir.at("m-\(thread)-\(round)"))
                    defer { machine.discard() }
                    let (status, lines) = try Busybox.run(machine, "echo started")
                    if status != 0 || lines != ["started"] { failures.withLock { $0.append("\(thread)/\(round): \(status) \(lines)") } }
                } catch {
                    failures.withLock { $0.append("\(thread)/\(round): \(error)") }
                }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
    }

    @Test func removingTheMountPointsNeverFollowsTheCommandsSymlinks() throws {
        // An image without /etc and /run; the command points both at a host folder that
        // holds what bake's own mount points would be called.
        let dir = TemporaryDirectory()
        let host = dir.at("hostdir")
        try Fixture.write(host + "/resolv.conf", "")
        try Fixture.mkdir(host + "/secrets")
        try Fixture.write(host + "/keep", "keep")
        try BusyboxRoot.write(at: dir.at("lower"), applets: ["sh", "ln"])
        try FileSystem.removeTree(dir.at("lower/etc"))
        let machine = try OverlayMachine(lowers: [dir.at("lower")], scratch: dir.at("machine"))
        defer { machine.discard() }
        let (status, lines) = try Busybox.run(machine, "ln -s \(host) /etc; ln -s \(host) /run")
        #expect(status == 0, "\(lines)")
        let tar = TarWriter(sink: ArraySink())
        _ = try machine.changes(below: ImageFilesystem(), epoch: 0, into: tar)
        #expect(FileManager.default.fileExists(atPath: host + "/resolv.conf"))
        #expect(FileManager.default.fileExists(atPath: host + "/secrets"))
        #expect(try Fixture.read(host + "/keep") == "keep")
    }

    @Test func aCommandThatForksInALoopStopsAtItsProcessLimit() throws {
        let dir = TemporaryDirectory()
        let machine = try Self.machine(dir)
        let most = Atomic<Int>(0)
        let done = Atomic<Bool>(false)
        let watcher = Thread {
            while !done.load(ordering: .relaxed) {
                let count = HostState.processes(containing: "probe forks").count
                if count > most.load(ordering: .relaxed) { most.store(count, ordering: .relaxed) }
                usleep(2_000)
            }
        }
        watcher.start()
        defer { done.store(true, ordering: .relaxed) }
        let lines = Lines()
        #expect {
            _ = try machine.run(Command(arguments: ["/bin/probe", "forks", "5000"], environment: [], limits: ResourceLimits(processes: 64)),
                                output: .lines(lines.add))
        } throws: { error in
            "\(error)" == "the command reached its limit of 64 processes"
        }
        done.store(true, ordering: .relaxed)
        // The init, the probe and its children: never more than the limit.
        #expect(most.load(ordering: .relaxed) <= 64, "\(lines.all)")
        #expect(lines.all.first?.hasPrefix("fork EAGAIN after ") == true, "\(lines.all)")
        #expect(HostState.processes(containing: "probe forks").isEmpty)
        #expect(!machine.lastCgroups.isEmpty && machine.lastCgroups.allSatisfy { !FileManager.default.fileExists(atPath: $0) },
                "\(machine.lastCgroups)")
    }

    @Test func aCommandOverItsMemoryLimitIsKilledAndSaysSo() throws {
        let dir = TemporaryDirectory()
        let machine = try Self.machine(dir)
        let lines = Lines()
        #expect {
            _ = try machine.run(Command(arguments: ["/bin/probe", "alloc", "256"], environment: [],
                                        limits: ResourceLimits(memory: 64 << 20)),
                                output: .lines(lines.add))
        } throws: { error in
            "\(error)" == "the command used its memory limit of 64 MiB and was killed"
        }
        #expect(!lines.all.contains("allocated"), "\(lines.all)")
        // Under the limit, the same command runs.
        let fits = try machine.run(Command(arguments: ["/bin/probe", "alloc", "16"], environment: [],
                                           limits: ResourceLimits(memory: 64 << 20)),
                                   output: .lines(lines.add))
        #expect(fits == 0 && lines.all.last == "allocated", "\(lines.all)")
        #expect(!machine.lastCgroups.isEmpty && machine.lastCgroups.allSatisfy { !FileManager.default.fileExists(atPath: $0) },
                "\(machine.lastCgroups)")
    }

    @Test func tmpIsATmpfsOfTheMemoryLimitsSize() throws {
        let dir = TemporaryDirectory()
        let machine = try Self.machine(dir)
        let lines = Lines()
        let status = try machine.run(Command(arguments: ["/bin/sh", "-c", "df -k /tmp | tail -n 1 | awk '{print $2}'"], environment: ["PATH=/bin"],
                                             limits: ResourceLimits(memory: 96 << 20)),
                                     output: .lines(lines.add))
        #expect(status == 0 && lines.all == ["98304"], "\(lines.all)")
    }
}

/// Finding the cgroup hierarchies: v2 when it has the controllers, else v1, else a sentence.
@Suite struct CgroupDiscoveryTests {
    static let mixed = """
        31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
        35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
        39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
        40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
        """

    @Test func theMountsOfBothVersionsAreFound() {
        let mounts = CgroupMounts(mountinfo: Self.mixed)
        #expect(mounts.unified == "/sys/fs/cgroup/unified")
        #expect(mounts.v1["memory"] == "/sys/fs/cgroup/memory")
        #expect(mounts.v1["pids"] == "/sys/fs/cgroup/pids")
        #expect(mounts.v1["name=systemd"] == nil && mounts.v1["rw"] == nil)
    }

    @Test func aPathWithSpacesIsUnescaped() {
        let mounts = CgroupMounts(mountinfo: "41 31 0:38 / /sys/fs/my\\040cgroup rw - cgroup2 cgroup2 rw\n")
        #expect(mounts.unified == "/sys/fs/my cgroup")
    }

    @Test func ownCgroupsAreReadPerHierarchy() {
        let own = CgroupMounts.ownCgroups(procSelfCgroup: "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/be61\n0::/ci\n")
        #expect(own.unified == "/ci")
        #expect(own.v1["memory"] == "/process_api/be61")
        #expect(own.v1["pids"] == "/")
    }

    @Test func withNeitherVersionTheReasonIsOneSentence() {
        let reason = Cgroups.unusable(v2: "the cgroup2 mount /sys/fs/cgroup/unified offers no memory controller",
                                      v1: "no cgroup v1 hierarchy has the pids controller")
        #expect(reason == "cannot limit the step's memory and processes: the cgroup2 mount /sys/fs/cgroup/unified offers no memory controller, and no cgroup v1 hierarchy has the pids controller (mount cgroup2 with the memory and pids controllers, or the v1 memory and pids hierarchies)")
    }
}

/// Sizes of `limits:`, `--memory`: parsed and shown the way a user writes them.
@Suite struct ResourceLimitsTests {
    @Test(arguments: [("2G", UInt64(2) << 30), ("512M", 512 << 20), ("64m", 64 << 20), ("1.5G", 3 << 29),
                      ("100000000", 100_000_000), ("8MiB", 8 << 20), ("4096k", 4 << 20)])
    func sizesAreRead(text: String, bytes: UInt64) throws {
        #expect(try ResourceLimits.memory(parsing: text) == bytes)
    }

    @Test(arguments: ["", "G", "2X", "-1G", "1M", "0", "lots", "1e9", "99999999999999999999G"])
    func badSizesAreRefused(text: String) {
        #expect(throws: InputError.self) { try ResourceLimits.memory(parsing: text) }
    }

    @Test func sizesAreShownInBinaryUnits() {
        #expect(ResourceLimits.describe(bytes: 2 << 30) == "2 GiB")
        #expect(ResourceLimits.describe(bytes: 64 << 20) == "64 MiB")
        #expect(ResourceLimits.describe(bytes: 3 << 29) == "1.5 GiB")
        #expect(ResourceLimits.describe(bytes: 12_345_678_901) == "11.5 GiB")
        #expect(ResourceLimits.describe(bytes: 5000) == "5000 bytes")
    }

    @Test func processCountsAreRead() throws {
        #expect(try ResourceLimits.processes(parsing: "1024") == 1024)
        #expect(throws: InputError.self) { try ResourceLimits.processes(parsing: "3") }
        #expect(throws: InputError.self) { try ResourceLimits.processes(parsing: "many") }
        #expect(throws: InputError.self) { try ResourceLimits.processes(parsing: "99999999") }
    }
}
