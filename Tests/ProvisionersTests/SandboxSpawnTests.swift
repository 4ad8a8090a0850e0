import CSandbox
import Foundation
import Glibc
import Testing
import TestSupport

/// bake_sandbox_spawn itself, below OverlayMachine (root only: it clones into namespaces).
@Suite(.enabled(if: Host.canRun(tools: [], root: true)))
struct SandboxSpawnTests {
    /// The init may fail its setup (here: the overlay cannot be mounted) while bake still puts
    /// it into the step's cgroups; bake's "go" then meets a closed reader. That must be an
    /// error the caller reads from the error pipe, never a SIGPIPE that ends bake (and every
    /// test sharing its process). The cgroup file is a full pipe that drains only after the
    /// init has failed, so the order is certain.
    @Test func anInitThatFailsBeforeItsGoDoesNotSignalBake() throws {
        var slowCgroup: [Int32] = [-1, -1]
        #expect(pipe(&slowCgroup) == 0)
        defer { close(slowCgroup[0]) }
        _ = fcntl(slowCgroup[1], F_SETFL, O_NONBLOCK)
        let filler = [UInt8](repeating: 0x30, count: 4096)
        while filler.withUnsafeBytes({ write(slowCgroup[1], $0.baseAddress, $0.count) }) > 0 {}
        while filler.withUnsafeBytes({ write(slowCgroup[1], $0.baseAddress, 1) }) > 0 {}
        _ = fcntl(slowCgroup[1], F_SETFL, 0)
        let drainEnd = slowCgroup[0]
        let drainer = Thread {
            usleep(300_000)
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while buffer.withUnsafeMutableBytes({ read(drainEnd, $0.baseAddress, $0.count) }) > 0 {}
        }
        drainer.start()

        var errorPipe: [Int32] = [-1, -1]
        #expect(bake_pipe_cloexec(&errorPipe) == 0)
        defer { close(errorPipe[0]) }
        // Blocked on this thread, a SIGPIPE sent to it stays pending (whatever the process's
        // disposition) instead of ending the test process, so the test can see it.
        var pipeSignal = sigset_t()
        sigemptyset(&pipeSignal)
        sigaddset(&pipeSignal, SIGPIPE)
        var previousMask = sigset_t()
        pthread_sigmask(SIG_BLOCK, &pipeSignal, &previousMask)
        let pid: pid_t = "/nonexistent-bake-root".withCString { root in
            "lowerdir=/nonexistent-bake-lower".withCString { options in
                "spawn-test".withCString { hostname in
                    "/".withCString { workdir in
                        "mode=1777".withCString { tmpOptions in
                            var cgroupFDs: [Int32] = [slowCgroup[1]]
                            return cgroupFDs.withUnsafeMutableBufferPointer { cgroups in
                                var config = bake_sandbox_config()
                                config.overlay_options = options
                                config.root = root
                                config.hostname = hostname
                                config.new_network = 1
                                config.workdir = workdir
                                config.stdin_fd = -1
                                config.stdout_fd = -1
                                config.stderr_fd = -1
                                config.error_fd = errorPipe[1]
                                config.cgroup_fds = UnsafePointer(cgroups.baseAddress)
                                config.cgroup_count = 1
                                config.tmp_options = tmpOptions
                                return bake_sandbox_spawn(&config)
                            }
                        }
                    }
                }
            }
        }
        var pending = sigset_t()
        sigpending(&pending)
        let signalled = sigismember(&pending, SIGPIPE) == 1
        if signalled {
            var timeout = timespec(tv_sec: 0, tv_nsec: 0)
            _ = sigtimedwait(&pipeSignal, nil, &timeout)
        }
        pthread_sigmask(SIG_SETMASK, &previousMask, nil)
        close(slowCgroup[1])
        close(errorPipe[1])

        #expect(!signalled, "bake was sent SIGPIPE")
        #expect(pid > 0)
        guard pid > 0 else { return }
        var status: Int32 = 0
        bake_sandbox_track(pid)
        #expect(bake_sandbox_wait(pid, &status) == 0)
        #expect(status != 0)
        var message: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(errorPipe[0], $0.baseAddress, $0.count) }
            if count <= 0 { break }
            message += buffer[0..<count]
        }
        #expect(String(decoding: message, as: UTF8.self).contains("cannot mount the overlay"))
    }
}
