// The sandbox a step's commands run in: new mount, PID, UTS and IPC namespaces (and a new
// network namespace unless the step asks for the network), an overlayfs root made of the
// image's unpacked layers and a fresh upper dir, /proc, a minimal /dev, tmpfs /tmp, the
// step's secrets, pivot_root into it, capabilities cut to Docker's default set, Docker's
// seccomp profile (seccomp_profile.c), and the command's cgroups (made by the caller,
// joined before the command starts).
//
// Everything after clone() runs in the child only and uses nothing but system calls and
// stack buffers: the parent is a multithreaded Swift process, whose locks the child must
// never touch. Mounts are made inside the child's mount namespace, so they disappear with
// it, whatever happens to bake; PR_SET_PDEATHSIG takes the sandbox down if bake dies.
#define _GNU_SOURCE
#include "CSandbox.h"
#include "seccomp_profile.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#define PATH_LIMIT 4096

/// What clone() hands the child: every value is the starting thread's own, so sandboxes
/// started at once from several threads never see each other's (no globals are written
/// before clone).
struct child_start {
    const struct bake_sandbox_config *config;
    /// A pidfd of bake, opened before clone(): readable once bake is gone (-1: none).
    int lifeline;
    /// The seccomp program, built before clone (libseccomp allocates; the child may not).
    const struct sock_fprog *seccomp;
    /// Read end of a pipe: one byte once bake has put the child into the command's cgroups,
    /// end of file if it could not (-1: no cgroups).
    int cgroup_ready;
};

// Set in the child only, from its own copy of memory.
static const struct bake_sandbox_config *cfg;
static volatile pid_t command_pid;

// --- tiny string helpers (no stdio, no malloc) ---

static size_t append(char *buffer, size_t used, size_t size, const char *text) {
    size_t length = strlen(text);
    if (used + length >= size) length = size - used - 1;
    memcpy(buffer + used, text, length);
    buffer[used + length] = 0;
    return used + length;
}

static void fail(const char *what);

static void join(char *buffer, const char *root, const char *relative) {
    // A truncated path would name another file: refuse instead.
    if (strlen(root) + 1 + strlen(relative) >= PATH_LIMIT) {
        errno = ENAMETOOLONG;
        fail("a path in the sandbox is too long");
    }
    size_t used = append(buffer, 0, PATH_LIMIT, root);
    used = append(buffer, used, PATH_LIMIT, "/");
    append(buffer, used, PATH_LIMIT, relative);
}

static void number(char *buffer, long value) {
    char digits[24];
    int count = 0;
    unsigned long magnitude = value < 0 ? (unsigned long)(-value) : (unsigned long)value;
    do {
        digits[count++] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude > 0);
    int index = 0;
    if (value < 0) buffer[index++] = '-';
    while (count > 0) buffer[index++] = digits[--count];
    buffer[index] = 0;
}

/// Reports "what: strerror(errno)" on the error pipe and exits with 125.
static void fail(const char *what) {
    int saved = errno;
    char message[1024];
    size_t used = append(message, 0, sizeof message, what);
    if (saved != 0) {
        used = append(message, used, sizeof message, ": ");
        // strerrordesc_np, not strerror: no locale, no gettext locks another thread may hold.
        const char *description = strerrordesc_np(saved);
        if (description != NULL) {
            used = append(message, used, sizeof message, description);
        } else {
            char digits[24];
            number(digits, saved);
            used = append(message, used, sizeof message, "errno ");
            used = append(message, used, sizeof message, digits);
        }
    }
    used = append(message, used, sizeof message, "\n");
    if (cfg->error_fd >= 0) {
        ssize_t ignored = write(cfg->error_fd, message, used);
        (void)ignored;
    }
    _exit(125);
}

static void fail_path(const char *what, const char *path) {
    char message[PATH_LIMIT + 128];
    size_t used = append(message, 0, sizeof message, what);
    used = append(message, used, sizeof message, " ");
    append(message, used, sizeof message, path);
    fail(message);
}

// --- mounts ---

/// Fails when a folder on the way to `relative` (or `relative` itself) is a symlink of the
/// image: a mount point is made and mounted on the host's side of pivot_root, where an
/// image's `/run -> /etc` would lead out of the root.
static void refuse_symlinks(const char *relative) {
    char prefix[PATH_LIMIT];
    size_t length = strlen(relative);
    for (size_t end = 1; end <= length; end++) {
        if (end < length && relative[end] != '/') continue;
        char part[PATH_LIMIT];
        if (end >= sizeof part) fail("a path in the sandbox is too long");
        memcpy(part, relative, end);
        part[end] = 0;
        join(prefix, cfg->root, part);
        struct stat st;
        if (lstat(prefix, &st) != 0) return;  // made below, as a folder
        if (S_ISLNK(st.st_mode)) {
            char shown[PATH_LIMIT + 1];
            append(shown, append(shown, 0, sizeof shown, "/"), sizeof shown, part);
            errno = 0;
            fail_path("the image has a symlink where the sandbox mounts something:", shown);
        }
    }
}

/// Makes a mount point inside the root (a folder, or an empty file for a bind of a file).
static void mount_point(const char *path, int file) {
    struct stat st;
    if (lstat(path, &st) == 0) return;
    if (file) {
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) fail_path("cannot create the mount point", path);
        close(fd);
    } else if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        fail_path("cannot create the mount point", path);
    }
}

static void mount_at(const char *source, const char *relative, const char *type, unsigned long flags, const char *data) {
    char target[PATH_LIMIT];
    refuse_symlinks(relative);
    join(target, cfg->root, relative);
    mount_point(target, 0);
    if (mount(source, target, type, flags, data) != 0) fail_path("cannot mount", relative);
}

/// /dev/NAME: the host's node bound onto an empty file. /dev itself (like the root and
/// /tmp) is nodev, so a node a step makes with mknod cannot be opened: no raw disks.
static void device(const char *name) {
    char path[PATH_LIMIT], host[64], relative[64];
    append(relative, append(relative, 0, sizeof relative, "dev/"), sizeof relative, name);
    append(host, append(host, 0, sizeof host, "/dev/"), sizeof host, name);
    join(path, cfg->root, relative);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0) fail_path("cannot create", relative);
    close(fd);
    if (mount(host, path, NULL, MS_BIND, NULL) != 0) fail_path("cannot bind the host's", host);
}

/// Hides what no build step may touch in /proc: kernel knobs and triggers become read-only
/// (a write to /proc/sys/kernel/core_pattern would run a program as the host's root), and
/// files that expose kernel memory or other processes' keys read as empty.
static void guard_proc(void) {
    static const char *const read_only[] = {"proc/sys", "proc/sysrq-trigger", "proc/irq", "proc/bus", "proc/fs"};
    static const char *const masked[] = {"proc/kcore", "proc/keys", "proc/timer_list", "proc/sched_debug",
                                         "proc/latency_stats", "proc/acpi", "proc/scsi", "proc/kmsg"};
    char path[PATH_LIMIT];
    for (size_t index = 0; index < sizeof read_only / sizeof read_only[0]; index++) {
        join(path, cfg->root, read_only[index]);
        struct stat st;
        if (lstat(path, &st) != 0) continue;
        if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) != 0) fail_path("cannot bind", read_only[index]);
        if (mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
            fail_path("cannot make read-only", read_only[index]);
    }
    for (size_t index = 0; index < sizeof masked / sizeof masked[0]; index++) {
        join(path, cfg->root, masked[index]);
        struct stat st;
        if (lstat(path, &st) != 0) continue;
        int rc = S_ISDIR(st.st_mode) ? mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0")
                                     : mount("/dev/null", path, NULL, MS_BIND, NULL);
        if (rc != 0) fail_path("cannot hide", masked[index]);
    }
}

static void link_in_root(const char *target, const char *relative) {
    char path[PATH_LIMIT];
    join(path, cfg->root, relative);
    if (symlink(target, path) != 0 && errno != EEXIST) fail_path("cannot create", relative);
}

static void make_dev(void) {
    mount_at("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_NODEV | MS_STRICTATIME, "mode=0755,size=65536k");
    device("null");
    device("zero");
    device("full");
    device("random");
    device("urandom");
    device("tty");
    mount_at("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620");
    mount_at("tmpfs", "dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=65536k");
    link_in_root("pts/ptmx", "dev/ptmx");
    link_in_root("/proc/self/fd", "dev/fd");
    link_in_root("/proc/self/fd/0", "dev/stdin");
    link_in_root("/proc/self/fd/1", "dev/stdout");
    link_in_root("/proc/self/fd/2", "dev/stderr");
}

static void make_secrets(void) {
    if (cfg->secret_count <= 0) return;
    char run[PATH_LIMIT], folder[PATH_LIMIT];
    refuse_symlinks("run/secrets");
    join(run, cfg->root, "run");
    mount_point(run, 0);
    mount_at("tmpfs", "run/secrets", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=16m");
    join(folder, cfg->root, "run/secrets");
    for (int index = 0; index < cfg->secret_count; index++) {
        char path[PATH_LIMIT];
        join(path, folder, cfg->secret_names[index]);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0400);
        if (fd < 0) fail_path("cannot write the secret", cfg->secret_names[index]);
        size_t written = 0;
        while (written < cfg->secret_lengths[index]) {
            ssize_t count = write(fd, cfg->secret_values[index] + written, cfg->secret_lengths[index] - written);
            if (count < 0) {
                if (errno == EINTR) continue;
                fail_path("cannot write the secret", cfg->secret_names[index]);
            }
            written += (size_t)count;
        }
        if (fchown(fd, cfg->uid, cfg->gid) != 0) fail_path("cannot give the secret to the step's user", cfg->secret_names[index]);
        close(fd);
    }
    if (mount(NULL, folder, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
        fail("cannot make /run/secrets read-only");
}

static void bind_resolv_conf(void) {
    if (cfg->new_network || cfg->resolv_conf == NULL) return;
    char etc[PATH_LIMIT], target[PATH_LIMIT];
    join(etc, cfg->root, "etc");
    struct stat st;
    if (lstat(etc, &st) != 0 || !S_ISDIR(st.st_mode)) return;
    join(target, cfg->root, "etc/resolv.conf");
    // A symlink would be followed from the host's /: leave it alone.
    if (lstat(target, &st) == 0 && !S_ISREG(st.st_mode)) return;
    mount_point(target, 1);
    if (mount(cfg->resolv_conf, target, NULL, MS_BIND, NULL) != 0) fail("cannot bind /etc/resolv.conf");
    if (mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) != 0) fail("cannot make /etc/resolv.conf read-only");
}

/// Opens `relative` (no leading "/") as if `root_fd` were "/": the image's symlinks are
/// followed, but an absolute link or a ".." never leads out of the root (RESOLVE_IN_ROOT),
/// and /proc's magic links (/proc/self/root) are refused. -1 with errno.
static int open_in_root(int root_fd, const char *relative, int flags) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (unsigned long long)(flags | O_CLOEXEC);
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    return (int)syscall(SYS_openat2, root_fd, relative, &how, sizeof how);
}

/// `ROOT/proc/self/fd/FD`: a path mount(2) follows to exactly what the descriptor names (the
/// sandbox's own /proc, mounted above, not the image's). How a mount point resolved inside the
/// root is mounted on from this side of pivot_root, where a path would be resolved again from
/// the host's "/" (an image's `/data -> /etc` would reach the host's /etc).
static void descriptor_path(char *buffer, int fd) {
    char digits[24], relative[64];
    number(digits, fd);
    append(relative, append(relative, 0, sizeof relative, "proc/self/fd/"), sizeof relative, digits);
    join(buffer, cfg->root, relative);
}

/// One `bake run --volume`: the host's `source` bound onto `target` of the image. The image
/// is untrusted: every step from the root to the mount point is resolved inside the root,
/// missing folders are made from their (resolved) parent with mkdirat, and the bind goes
/// onto the resolved descriptor, never onto a path. A mount point in /proc is refused (a
/// volume there could hide /proc's guards, see guard_proc).
static void make_volume(int root_fd, const char *source, const char *target, int read_only) {
    struct stat source_status;
    if (stat(source, &source_status) != 0) fail_path("cannot find the host path of the volume", source);
    const char *relative = target;
    while (*relative == '/') relative++;
    size_t length = strlen(relative);
    if (length == 0 || length >= PATH_LIMIT) {
        errno = EINVAL;
        fail_path("cannot mount a volume at", target);
    }
    char prefix[PATH_LIMIT];
    for (size_t end = 1; end <= length; end++) {
        if (end < length && relative[end] != '/') continue;
        memcpy(prefix, relative, end);
        prefix[end] = 0;
        int found = open_in_root(root_fd, prefix, O_PATH);
        if (found >= 0) {
            close(found);
            continue;
        }
        if (errno != ENOENT) fail_path("cannot reach the mount point of the volume", target);
        // The parent exists (found or made one round before): it gets the missing name. A
        // dangling symlink of the image fails here (EEXIST), rather than being followed.
        char *slash = strrchr(prefix, '/');
        const char *name = slash != NULL ? slash + 1 : prefix;
        int parent;
        if (slash != NULL) {
            *slash = 0;
            parent = open_in_root(root_fd, prefix, O_PATH | O_DIRECTORY);
        } else {
            parent = dup(root_fd);
        }
        if (parent < 0) fail_path("cannot reach the mount point of the volume", target);
        if (end == length && !S_ISDIR(source_status.st_mode)) {
            int made = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
            if (made < 0) fail_path("cannot create the mount point of the volume", target);
            // 0644 and 0755 whatever bake's umask, as an image's own file and folder would be.
            if (fchmod(made, 0644) != 0) fail_path("cannot create the mount point of the volume", target);
            close(made);
        } else if (mkdirat(parent, name, 0755) != 0 || fchmodat(parent, name, 0755, 0) != 0) {
            if (errno == EEXIST) {
                errno = 0;
                fail_path("the image has a symlink that leads nowhere on the way to the volume's mount point", target);
            }
            fail_path("cannot create the mount point of the volume", target);
        }
        close(parent);
    }
    int point = open_in_root(root_fd, relative, O_PATH);
    if (point < 0) fail_path("cannot reach the mount point of the volume", target);
    struct statfs file_system;
    if (fstatfs(point, &file_system) != 0) fail_path("cannot reach the mount point of the volume", target);
    if (file_system.f_type == PROC_SUPER_MAGIC || file_system.f_type == SYSFS_MAGIC) {
        errno = 0;
        fail_path("a volume cannot be mounted in /proc or /sys:", target);
    }
    // An image's `/top -> /` leads to the root itself: a volume there would replace the
    // sandbox's root (and hide its /proc and /dev) at pivot_root.
    struct stat point_status, root_status;
    if (fstat(point, &point_status) != 0 || fstat(root_fd, &root_status) != 0)
        fail_path("cannot reach the mount point of the volume", target);
    if (point_status.st_dev == root_status.st_dev && point_status.st_ino == root_status.st_ino) {
        errno = 0;
        fail_path("a volume cannot replace the image's root folder; a symlink leads there from", target);
    }
    char via[PATH_LIMIT];
    descriptor_path(via, point);
    // A plain bind (not MS_REC): what is mounted below the host path stays out.
    if (mount(source, via, NULL, MS_BIND, NULL) != 0) fail_path("cannot mount the volume", target);
    close(point);
    // The descriptor names the folder under the new mount: resolve again to reach the mount
    // itself and set its flags (a bind takes none of its own at first).
    int mounted = open_in_root(root_fd, relative, O_PATH);
    if (mounted < 0) fail_path("cannot reach the volume", target);
    descriptor_path(via, mounted);
    unsigned long flags = MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | (read_only ? MS_RDONLY : 0);
    if (mount(NULL, via, NULL, flags, NULL) != 0) fail_path("cannot set the flags of the volume", target);
    close(mounted);
}

static void make_volumes(void) {
    if (cfg->mount_count <= 0) return;
    int root_fd = open(cfg->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) fail("cannot open the root");
    for (int index = 0; index < cfg->mount_count; index++) {
        make_volume(root_fd, cfg->mount_sources[index], cfg->mount_targets[index], cfg->mount_read_only[index]);
    }
    close(root_fd);
}

static void loopback_up(void) {
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) fail("cannot open a socket to bring up the loopback");
    struct ifreq request;
    memset(&request, 0, sizeof request);
    append(request.ifr_name, 0, IFNAMSIZ, "lo");
    if (ioctl(sock, SIOCGIFFLAGS, &request) != 0) fail("cannot read the loopback's flags");
    request.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(sock, SIOCSIFFLAGS, &request) != 0) fail("cannot bring up the loopback");
    close(sock);
}

/// Docker's default capability set: what package managers and user tools need, without
/// mounting, module loading, raw I/O, ptrace, time, or open_by_handle_at.
static int kept_capability(int cap) {
    switch (cap) {
    case CAP_CHOWN: case CAP_DAC_OVERRIDE: case CAP_FOWNER: case CAP_FSETID: case CAP_KILL:
    case CAP_SETGID: case CAP_SETUID: case CAP_SETPCAP: case CAP_NET_BIND_SERVICE: case CAP_NET_RAW:
    case CAP_SYS_CHROOT: case CAP_MKNOD: case CAP_AUDIT_WRITE: case CAP_SETFCAP:
        return 1;
    default:
        return 0;
    }
}

static void drop_capabilities(void) {
    for (int cap = 0; cap <= 63; cap++) {
        if (kept_capability(cap)) continue;
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) fail("cannot drop a capability");
    }
    // Whatever bake inherited must not pass exec: no ambient and no inheritable capabilities
    // (a root exec gets bounding | inheritable).
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) fail("cannot clear the ambient capabilities");
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &header, data) != 0) fail("cannot read the capabilities");
    data[0].inheritable = 0;
    data[1].inheritable = 0;
    if (syscall(SYS_capset, &header, data) != 0) fail("cannot clear the inheritable capabilities");
}

// --- the init ---

static void forward(int signal_number) {
    if (command_pid > 0) kill(command_pid, signal_number);
}

/// Closes every descriptor but the ones the command gets and the error pipe: the parent
/// is multithreaded, and another sandbox's pipes must not live on in this one.
static void close_other_descriptors(int also_keep) {
#define KEPT 5
    int keep[KEPT] = {cfg->stdin_fd, cfg->stdout_fd, cfg->stderr_fd, cfg->error_fd, also_keep};
    // Sorted, so the gaps between them can be closed as ranges.
    for (int i = 0; i < KEPT; i++)
        for (int j = i + 1; j < KEPT; j++)
            if (keep[j] < keep[i]) { int t = keep[i]; keep[i] = keep[j]; keep[j] = t; }
    unsigned int low = 3;
    for (int i = 0; i <= KEPT; i++) {
        unsigned int high = i < KEPT ? (unsigned int)keep[i] : ~0U;
        if (i < KEPT && (keep[i] < 0 || (unsigned int)keep[i] < low)) continue;
        if (high > low) {
            unsigned int last = i < KEPT ? high - 1 : ~0U;
            if (syscall(SYS_close_range, low, last, 0) != 0) {
                for (unsigned int fd = low; fd <= last && fd < 65536; fd++) close((int)fd);
            }
        }
        if (i < KEPT) low = high + 1;
    }
}

/// Waits until bake has moved this process into the command's cgroups (it does while the
/// sandbox mounts its file systems: a cgroup migration waits for an RCU grace period, which
/// would otherwise add milliseconds to every step). Before the command is forked, so no
/// process of the command is ever outside them.
static void await_cgroups(int ready) {
    if (ready < 0) return;
    char byte;
    ssize_t count;
    do {
        count = read(ready, &byte, 1);
    } while (count < 0 && errno == EINTR);
    if (count != 1) {
        errno = 0;
        fail("cannot join the step's cgroup");
    }
    close(ready);
}

/// Docker's default seccomp profile (seccomp_profile.c), loaded while the init still has
/// CAP_SYS_ADMIN (so without no_new_privs: setuid programs keep working). Every process of
/// the command inherits it.
static void install_seccomp(const struct sock_fprog *program) {
    if (program == NULL) {
        errno = 0;
        fail("the seccomp filter is missing");
    }
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, program, 0, 0) != 0) fail("cannot install the seccomp filter");
}

/// The init is a copy of bake: its memory holds what bake holds (secrets, credentials), and it
/// inherited bake's signal handlers (the Swift runtime's crash handlers among them, which start
/// a memory server and run a backtracer by a path that, after pivot_root, is inside the image).
/// Every disposition goes back to the default, so the kernel's rule for a namespace's init
/// applies: a signal a step sends it without a handler is dropped. SIGPIPE stays ignored (a
/// write to bake's closed pipe fails, it does not kill). Not dumpable: no process of the step
/// may ptrace it or read its /proc files (mem, environ).
static void forget_bakes_handlers(void) {
    struct sigaction default_action;
    memset(&default_action, 0, sizeof default_action);
    default_action.sa_handler = SIG_DFL;
    for (int number = 1; number < NSIG; number++) {
        if (number != SIGKILL && number != SIGSTOP) sigaction(number, &default_action, NULL);
    }
    signal(SIGPIPE, SIG_IGN);
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) fail("cannot make the sandbox's init undumpable");
}

static int child_main(void *argument) {
    const struct child_start *start = argument;
    cfg = start->config;
    forget_bakes_handlers();
    // Die with bake, whatever kills it.
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    // bake may have died before PDEATHSIG was armed (getppid() is 0 in a new PID namespace,
    // so ask bake's pidfd instead).
    if (start->lifeline >= 0) {
        struct pollfd lifeline = {start->lifeline, POLLIN, 0};
        if (poll(&lifeline, 1, 0) > 0) _exit(125);
    }
    if (cfg->cgroup_join_self) {
        // Moving oneself as a thread ("0" into v1's tasks; the init has one thread) takes
        // no global lock, where moving another process waits for an RCU grace period.
        for (int index = 0; index < cfg->cgroup_count; index++) {
            ssize_t written;
            do {
                written = write(cfg->cgroup_fds[index], "0", 1);
            } while (written < 0 && errno == EINTR);
            if (written != 1) fail("cannot join the step's cgroup");
        }
    }
    close_other_descriptors(start->cgroup_ready);

    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) fail("cannot make the mounts private");
    if (cfg->mount_dir != NULL && chdir(cfg->mount_dir) != 0) fail_path("cannot enter", cfg->mount_dir);
    // nodev: a device node a step makes is captured, never opened.
    if (mount("overlay", cfg->root, "overlay", MS_NODEV, cfg->overlay_options) != 0) fail("cannot mount the overlay");
    if (chdir("/") != 0) fail("cannot enter /");

    mount_at("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    guard_proc();
    make_dev();
    mount_at("tmpfs", "tmp", "tmpfs", MS_NOSUID | MS_NODEV, cfg->tmp_options != NULL ? cfg->tmp_options : "mode=1777");
    make_secrets();
    bind_resolv_conf();
    // Last: a volume may go anywhere in the image, inside /tmp or /dev included.
    make_volumes();
    if (sethostname(cfg->hostname, strlen(cfg->hostname)) != 0) fail("cannot set the hostname");
    if (cfg->new_network) loopback_up();

    // pivot_root, not chroot: the host's / is unmounted from this namespace altogether.
    if (chdir(cfg->root) != 0) fail("cannot enter the root");
    if (syscall(SYS_pivot_root, ".", ".") != 0) fail("cannot pivot into the root");
    if (umount2(".", MNT_DETACH) != 0) fail("cannot detach the host's root");
    if (chdir("/") != 0) fail("cannot enter /");
    drop_capabilities();
    install_seccomp(start->seccomp);
    if (cfg->workdir != NULL && cfg->workdir[0] != 0 && chdir(cfg->workdir) != 0) fail_path("cannot enter the working directory", cfg->workdir);

    // A session of its own: no controlling terminal to read keystrokes from or push input
    // into (TIOCSTI), and the terminal's Ctrl-C goes to bake alone, which decides.
    if (setsid() < 0) fail("cannot start a session");
    await_cgroups(start->cgroup_ready);

    sigset_t all, previous;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &previous);
    // The raw system call, not glibc's fork(): this process is a copy of one thread of a
    // multithreaded program, and fork() would take locks (atfork, malloc) that another
    // thread of bake may have held at clone time. For the same reason the ids below are set
    // with raw system calls (glibc's setuid would signal threads that do not exist here).
    pid_t pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (pid < 0) fail("cannot start the command");
    if (pid == 0) {
        // The command starts clean, whatever bake inherited: default dispositions (an
        // ignored signal survives exec) and nothing blocked.
        struct sigaction default_action;
        memset(&default_action, 0, sizeof default_action);
        default_action.sa_handler = SIG_DFL;
        for (int number = 1; number < NSIG; number++) {
            if (number != SIGKILL && number != SIGSTOP) sigaction(number, &default_action, NULL);
        }
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        int fds[3] = {cfg->stdin_fd, cfg->stdout_fd, cfg->stderr_fd};
        for (int index = 0; index < 3; index++) {
            int source = fds[index] >= 0 ? fds[index] : null_fd;
            if (source < 0 || dup2(source, index) != index) fail("cannot set up the command's input and output");
        }
        if (syscall(SYS_setgroups, (size_t)cfg->group_count, (const gid_t *)cfg->groups) != 0) fail("cannot set the groups");
        if (syscall(SYS_setresgid, cfg->gid, cfg->gid, cfg->gid) != 0) fail("cannot set the group");
        if (syscall(SYS_setresuid, cfg->uid, cfg->uid, cfg->uid) != 0) fail("cannot set the user");
        umask(cfg->umask);
        execve(cfg->argv[0], cfg->argv, cfg->envp);
        fail_path("cannot run", cfg->argv[0]);
    }
    command_pid = pid;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = forward;
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGHUP, &action, NULL);
    sigaction(SIGQUIT, &action, NULL);
    // bake run's stop signal (bake sends it here, see on_interrupt): a namespace's init gets
    // a signal from outside only when it has a handler (or for SIGKILL and SIGSTOP, which
    // cannot have one), so the init handles it and passes it on. SIGKILL kills the init and
    // with it the namespace.
    if (cfg->stop_signal > 0 && cfg->stop_signal < NSIG && cfg->stop_signal != SIGKILL && cfg->stop_signal != SIGSTOP)
        sigaction(cfg->stop_signal, &action, NULL);
    // The init must hear the signals it forwards, even if bake's thread had them blocked.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    (void)previous;
    if (cfg->error_fd >= 0) close(cfg->error_fd);
    for (int index = 0; index < 3; index++) {
        int fds[3] = {cfg->stdin_fd, cfg->stdout_fd, cfg->stderr_fd};
        if (fds[index] > 2) close(fds[index]);
    }

    // Reap everything; when the command is gone, so is the namespace (and whatever it left running).
    int status = 0;
    for (;;) {
        int child_status;
        pid_t reaped = waitpid(-1, &child_status, 0);
        if (reaped < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (reaped == pid) {
            status = child_status;
            break;
        }
    }
    if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) _exit(128 + WTERMSIG(status));
    _exit(125);
}

pid_t bake_sandbox_spawn(const struct bake_sandbox_config *config) {
    const size_t stack_size = 1 << 20;
    void *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) return -1;
    int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | SIGCHLD;
    if (config->new_network) flags |= CLONE_NEWNET;
    struct child_start start = {config, -1, NULL, -1};
    int seccomp_error = bake_seccomp_program(&start.seccomp);
    if (seccomp_error != 0) {
        munmap(stack, stack_size);
        errno = seccomp_error;
        return -1;
    }
    // A socket pair, not a pipe: if the init fails its setup and is gone before bake's go,
    // send(MSG_NOSIGNAL) returns EPIPE where a pipe's write would raise SIGPIPE in bake.
    int ready[2] = {-1, -1};
    int bake_joins = config->cgroup_count > 0 && !config->cgroup_join_self;
    if (bake_joins && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ready) != 0) {
        int saved = errno;
        munmap(stack, stack_size);
        errno = saved;
        return -1;
    }
    start.cgroup_ready = ready[0];
    // On this thread's stack, not in a global: another thread may be starting a sandbox
    // of its own at the same moment.
    start.lifeline = (int)syscall(SYS_pidfd_open, getpid(), 0);
    // No CLONE_VM: the child gets its own copy of memory, `start` and config included.
    pid_t pid = clone(child_main, (char *)stack + stack_size, flags, &start);
    int saved = errno;
    if (start.lifeline >= 0) close(start.lifeline);
    if (ready[0] >= 0) close(ready[0]);
    if (pid > 0 && ready[1] >= 0) {
        // The child's pid (as the host sees it) into each cgroup, while it sets itself up;
        // it forks the command only after the byte below. On failure the socket just closes
        // and the child stops with "cannot join the step's cgroup".
        char digits[24];
        number(digits, pid);
        int joined = 1;
        for (int index = 0; index < config->cgroup_count && joined; index++) {
            ssize_t written;
            do {
                written = write(config->cgroup_fds[index], digits, strlen(digits));
            } while (written < 0 && errno == EINTR);
            joined = written == (ssize_t)strlen(digits);
        }
        if (joined) {
            ssize_t ignored;
            do {
                ignored = send(ready[1], "1", 1, MSG_NOSIGNAL);
            } while (ignored < 0 && errno == EINTR);
        }
    }
    if (ready[1] >= 0) close(ready[1]);
    munmap(stack, stack_size);
    errno = saved;
    return pid;
}

// --- interrupts ---

#define TRACKED 64
static volatile pid_t tracked[TRACKED];
static volatile sig_atomic_t interrupted;
// Set by bake_interrupt_install before the handlers are, and only read by them.
static int gentle_mode;
static int stop_signal_number = SIGTERM;
static int grace_seconds = -1;

/// Sends `signal_number` to every tracked sandbox; 1 when there was one.
static int signal_tracked(int signal_number) {
    int running = 0;
    for (int index = 0; index < TRACKED; index++) {
        pid_t pid = tracked[index];
        if (pid > 0) {
            running = 1;
            kill(pid, signal_number);
        }
    }
    return running;
}

static void on_interrupt(int signal_number) {
    int second = interrupted;
    interrupted = 1;
    int gentle = gentle_mode && !second && grace_seconds != 0;
    int running = signal_tracked(gentle ? stop_signal_number : SIGKILL);
    if (!running) {
        signal(signal_number, SIG_DFL);
        raise(signal_number);
    } else if (gentle && grace_seconds > 0) {
        // The grace period is an alarm, not a watcher thread: alarm() and kill() are
        // async-signal-safe, so the whole escalation happens in signal handlers, with no
        // thread to start or wake from one, no lock, and nothing for the waiting code to
        // poll. A command that ends earlier leaves an alarm that finds nothing to kill.
        alarm((unsigned int)grace_seconds);
    }
}

static void on_grace_over(int signal_number) {
    (void)signal_number;
    signal_tracked(SIGKILL);
}

void bake_interrupt_install(int gentle, int stop_signal, int grace_seconds_given) {
    gentle_mode = gentle;
    stop_signal_number = stop_signal > 0 && stop_signal < NSIG ? stop_signal : SIGTERM;
    grace_seconds = grace_seconds_given;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_interrupt;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    // One interrupt handled at a time: a second signal waits for the first one's handler.
    sigaddset(&action.sa_mask, SIGINT);
    sigaddset(&action.sa_mask, SIGTERM);
    sigaddset(&action.sa_mask, SIGHUP);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGHUP, &action, NULL);
    if (gentle && grace_seconds > 0) {
        struct sigaction grace;
        memset(&grace, 0, sizeof grace);
        grace.sa_handler = on_grace_over;
        grace.sa_flags = SA_RESTART;
        sigemptyset(&grace.sa_mask);
        sigaction(SIGALRM, &grace, NULL);
    }
}

void bake_signals_unblock(void) {
    // A parent may hand bake a signal mask that blocks Ctrl-C (some test runners and
    // supervisors do). Called first thing in main, before any thread exists, so every
    // thread bake starts inherits the cleared mask.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

int bake_interrupted(void) { return interrupted; }

void bake_sandbox_track(pid_t pid) {
    for (int index = 0; index < TRACKED; index++) {
        if (__sync_bool_compare_and_swap(&tracked[index], 0, pid)) break;
    }
    // A sandbox that started just after Ctrl-C must not run on. SIGKILL even in gentle
    // mode: its init may not handle the stop signal yet (it would be dropped), and its
    // command has had no time to do anything worth a clean stop.
    if (interrupted) kill(pid, SIGKILL);
}

void bake_sandbox_untrack(pid_t pid) {
    for (int index = 0; index < TRACKED; index++) {
        if (__sync_bool_compare_and_swap(&tracked[index], pid, 0)) return;
    }
}

int bake_sandbox_wait(pid_t pid, int *status) {
    // Wait without reaping, untrack, then reap: until it is reaped the pid cannot be reused,
    // so an interrupt never signals a stranger.
    siginfo_t info;
    while (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT) != 0) {
        if (errno != EINTR) return -1;
    }
    bake_sandbox_untrack(pid);
    while (waitpid(pid, status, 0) < 0) {
        if (errno != EINTR) return -1;
    }
    return 0;
}

int bake_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int bake_seccomp_status(void) {
    const struct sock_fprog *program;
    return bake_seccomp_program(&program);
}

// --- a bake process in a changed environment (bake verify) ---

pid_t bake_spawn_changed(const char *path, char *const argv[], char *const envp[], const char *hostname,
                         unsigned int mask, int stdout_fd, const char *const bind_sources[],
                         const char *const bind_targets[], int bind_count) {
    // A raw clone with new UTS and mount namespaces, so the child can have its own hostname
    // and files; from here to execve only system calls run (the parent is multithreaded).
    pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWUTS | (bind_count > 0 ? CLONE_NEWNS : 0) | SIGCHLD, 0, 0, 0, 0);
    if (pid != 0) return pid;
    if (hostname != NULL && sethostname(hostname, strlen(hostname)) != 0) _exit(126);
    if (bind_count > 0) {
        // Slave: the host's mounts still reach the child, none of the child's reach the host.
        if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) != 0) _exit(126);
        for (int index = 0; index < bind_count; index++) {
            if (access(bind_targets[index], F_OK) != 0) continue;
            if (mount(bind_sources[index], bind_targets[index], NULL, MS_BIND, NULL) != 0) _exit(126);
        }
    }
    umask((mode_t)mask);
    if (stdout_fd >= 0 && dup2(stdout_fd, 1) < 0) _exit(126);
    execve(path, argv, envp);
    _exit(127);
}
