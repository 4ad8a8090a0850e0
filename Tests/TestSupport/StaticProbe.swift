import Foundation

/// A small static program for tests of what a command in the sandbox may do: busybox has
/// no applet for the kernel keyring or for most system calls, and an image on scratch has
/// no libc, so the host's C compiler builds it with `-static` into the test's root file system.
///
/// - `probe syscalls`: tries each system call the sandbox refuses and prints `NAME ERRNO`
///   (or `NAME ok`) per line, then `getpid ok` (a call it allows).
/// - `probe add NAME VALUE`: adds a `user` key to the user keyring; `add_key ok|ERRNO`.
/// - `probe find NAME`: looks a `user` key up; `request_key ok|ERRNO`.
/// - `probe forget NAME`: invalidates every `user` key NAME it finds (a test's cleanup on the host).
/// - `probe alloc MIB`: allocates and touches MIB MiB; `allocated` if it lived.
/// - `probe forks N`: starts N children that wait forever; on the first refusal prints
///   `fork ERRNO after K` and exits 1; `forked N` otherwise (then exits, leaving them).
public enum StaticProbe {
    static let source = #"""
    #define _GNU_SOURCE
    #include <errno.h>
    #include <fcntl.h>
    #include <linux/keyctl.h>
    #include <sched.h>
    #include <signal.h>
    #include <stdint.h>
    #include <stdio.h>
    #include <stdlib.h>
    #include <string.h>
    #include <sys/mount.h>
    #include <sys/personality.h>
    #include <sys/syscall.h>
    #include <sys/wait.h>
    #include <time.h>
    #include <unistd.h>

    static void report(const char *name, long rc) {
        if (rc < 0) printf("%s %s\n", name, strerrorname_np(errno));
        else printf("%s ok\n", name);
    }

    /// A raw clone (or clone3) that the child leaves at once; the parent reaps it.
    static long spawn(long rc) {
        if (rc == 0) _exit(0);
        if (rc > 0) waitpid((pid_t)rc, NULL, __WALL);
        return rc;
    }

    int main(int argc, char **argv) {
        setvbuf(stdout, NULL, _IONBF, 0);
        if (argc >= 2 && strcmp(argv[1], "syscalls") == 0) {
            struct timespec never = {0, 2000000000L};
            uint64_t clone3_args[11] = {0};
            clone3_args[4] = SIGCHLD;  // exit_signal
            report("keyctl", syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0));
            report("add_key", syscall(SYS_add_key, "user", "bake-probe", "x", 1, KEY_SPEC_PROCESS_KEYRING));
            report("request_key", syscall(SYS_request_key, "user", "bake-probe-none", NULL, 0));
            report("unshare-user", syscall(SYS_unshare, CLONE_NEWUSER));
            report("clone-user", spawn(syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0)));
            report("clone3", spawn(syscall(SYS_clone3, clone3_args, sizeof clone3_args)));
            report("setns", syscall(SYS_setns, 0, CLONE_NEWNS));
            report("mount", syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, NULL));
            report("umount2", syscall(SYS_umount2, "/proc", MNT_DETACH));
            report("pivot_root", syscall(SYS_pivot_root, "/", "/"));
            report("bpf", syscall(SYS_bpf, 0, NULL, 0));
            report("perf_event_open", syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
            report("userfaultfd", syscall(SYS_userfaultfd, O_CLOEXEC));
            report("open_by_handle_at", syscall(SYS_open_by_handle_at, 0, NULL, 0));
            report("name_to_handle_at", syscall(SYS_name_to_handle_at, AT_FDCWD, "/", NULL, NULL, 0));
            report("io_uring_setup", syscall(SYS_io_uring_setup, 0, NULL));
            report("personality", syscall(SYS_personality, ADDR_NO_RANDOMIZE));
            report("clock_settime", syscall(SYS_clock_settime, CLOCK_REALTIME, &never));
            report("init_module", syscall(SYS_init_module, NULL, 0, ""));
            report("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0));
            report("acct", syscall(SYS_acct, NULL));
            report("swapoff", syscall(SYS_swapoff, "/nothing"));
            report("quotactl", syscall(SYS_quotactl, 0, NULL, 0, NULL));
            report("iopl", syscall(SYS_iopl, 3));
            report("reboot", syscall(SYS_reboot, 0, 0, 0, NULL));
            report("getpid", syscall(SYS_getpid));
            return 0;
        }
        if (argc >= 4 && strcmp(argv[1], "add") == 0) {
            report("add_key", syscall(SYS_add_key, "user", argv[2], argv[3], strlen(argv[3]), KEY_SPEC_USER_KEYRING));
            return 0;
        }
        if (argc >= 3 && strcmp(argv[1], "find") == 0) {
            report("request_key", syscall(SYS_request_key, "user", argv[2], NULL, 0));
            return 0;
        }
        if (argc >= 3 && strcmp(argv[1], "forget") == 0) {
            long id;
            while ((id = syscall(SYS_request_key, "user", argv[2], NULL, 0)) >= 0) syscall(SYS_keyctl, KEYCTL_INVALIDATE, id);
            return 0;
        }
        if (argc >= 3 && strcmp(argv[1], "alloc") == 0) {
            size_t size = (size_t)atol(argv[2]) << 20;
            char *memory = malloc(size);
            if (memory == NULL) { printf("malloc failed\n"); return 1; }
            for (size_t at = 0; at < size; at += 4096) memory[at] = 1;
            printf("allocated\n");
            return 0;
        }
        if (argc >= 3 && strcmp(argv[1], "forks") == 0) {
            long count = atol(argv[2]);
            for (long made = 0; made < count; made++) {
                pid_t pid = fork();
                if (pid == 0) { for (;;) pause(); }
                if (pid < 0) {
                    printf("fork %s after %ld\n", strerrorname_np(errno), made);
                    return 1;
                }
            }
            printf("forked %ld\n", count);
            return 0;
        }
        fprintf(stderr, "usage: probe syscalls | add NAME VALUE | find NAME | alloc MIB | forks N\n");
        return 2;
    }
    """#

    /// Compiles the probe to `path` (an executable, mode 0755).
    public static func write(at path: String) throws {
        let scratch = TemporaryDirectory("bake-probe")
        try Fixture.write(scratch.at("probe.c"), source)
        try Fixture.mkdir((path as NSString).deletingLastPathComponent)
        let compiled = try Command.run(["cc", "-static", "-O1", "-o", path, scratch.at("probe.c")])
        guard compiled.status == 0 else { throw FixtureError("cc -static probe.c: \(compiled.stderr)") }
    }
}
