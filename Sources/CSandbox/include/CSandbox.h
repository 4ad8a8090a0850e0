#ifndef BAKE_CSANDBOX_H
#define BAKE_CSANDBOX_H
#include <sys/types.h>
#include <stddef.h>

/// What a sandboxed command runs in. Every pointer must stay valid until
/// bake_sandbox_spawn returns (the child gets a copy of the memory).
struct bake_sandbox_config {
    /// Folder to chdir into before mounting the overlay, so lowerdir entries may be short
    /// relative names (the mount options are limited to one page). May be NULL.
    const char *mount_dir;
    /// The overlayfs mount data: "lowerdir=...,upperdir=...,workdir=...".
    const char *overlay_options;
    /// Absolute path the overlay is mounted on; it becomes the sandbox's /.
    const char *root;
    const char *hostname;
    /// Non-zero: a new, empty network namespace (only a loopback, brought up).
    int new_network;
    /// Host file bound read-only onto /etc/resolv.conf when the network is shared, or NULL.
    const char *resolv_conf;
    /// Secrets, written to a read-only tmpfs at /run/secrets/NAME, owned by uid:gid, mode 0400.
    char *const *secret_names;
    const unsigned char *const *secret_values;
    const size_t *secret_lengths;
    int secret_count;
    /// Working directory inside the sandbox.
    const char *workdir;
    unsigned int uid;
    unsigned int gid;
    const unsigned int *groups;
    int group_count;
    unsigned int umask;
    /// NULL-terminated; argv[0] is an absolute path inside the sandbox.
    char *const *argv;
    char *const *envp;
    /// Descriptors of the caller to give the command as 0, 1, 2 (-1: /dev/null).
    int stdin_fd;
    int stdout_fd;
    int stderr_fd;
    /// Write end of a close-on-exec pipe: a setup failure is written there as one line.
    int error_fd;
    /// Open (write-only) `cgroup.procs` files of the command's cgroups, one per hierarchy:
    /// bake_sandbox_spawn writes the init's pid into each while the init sets up the
    /// sandbox, and the init forks the command only once it is in, so every process of the
    /// command is counted, limited and killed with the cgroup.
    const int *cgroup_fds;
    int cgroup_count;
    /// Non-zero: `cgroup_fds` are cgroup v1 `tasks` files and the init moves itself into
    /// each (it writes "0", first thing, while it has every capability), which skips the
    /// kernel's global threadgroup lock and its RCU grace period (~10 ms a step); bake
    /// writes nothing. Zero: `cgroup.procs` files bake writes the init's pid into.
    int cgroup_join_self;
    /// The mount options of the sandbox's /tmp (a tmpfs), e.g. "mode=1777,size=67108864".
    const char *tmp_options;
    /// A signal the init passes on to the command as it does SIGINT, SIGTERM, SIGHUP and
    /// SIGQUIT (`bake run`: the image's stop signal, see bake_interrupt_install); 0: none.
    int stop_signal;
    /// Bind mounts of host paths (`bake run --volume`): `mount_sources[i]` (a host path that
    /// exists) onto `mount_targets[i]` (absolute in the sandbox, without "." or ".."
    /// components, not "/"), resolved inside the root, symlinks of the image included, and
    /// made there if missing; nosuid, nodev, and read-only where `mount_read_only[i]`.
    char *const *mount_sources;
    char *const *mount_targets;
    const int *mount_read_only;
    int mount_count;
};

/// 0 when the seccomp filter of sandboxes is ready (it is built once per process, by
/// libseccomp), or an errno value saying why it cannot be built; a sandbox never starts
/// without it.
int bake_seccomp_status(void);

/// Starts the sandbox (with the seccomp filter, see bake_seccomp_status): returns the pid of its init (the caller waits for it with waitpid;
/// its exit status is the command's: 0-255, or 128+signal), or -1 with errno.
pid_t bake_sandbox_spawn(const struct bake_sandbox_config *config);

/// pipe2(fds, O_CLOEXEC).
int bake_pipe_cloexec(int fds[2]);

/// Ctrl-C handling. While sandboxes run, SIGINT, SIGTERM and SIGHUP go to them: in
/// `gentle` mode the first as `stop_signal` (the sandbox's init passes it to the command,
/// see `bake_sandbox_config.stop_signal`), then SIGKILL after `grace_seconds` if the
/// sandbox still runs (negative: no timer; 0: at once) or at a second signal; otherwise as
/// SIGKILL. With no sandbox running the signal ends bake as usual. In gentle mode with a
/// grace period this owns SIGALRM.
void bake_interrupt_install(int gentle, int stop_signal, int grace_seconds);

/// Clears the calling thread's signal mask (call before any thread is started).
void bake_signals_unblock(void);
/// Non-zero once an interrupt arrived.
int bake_interrupted(void);
/// Tracks and untracks the init of a running sandbox (at most 64 at once).
void bake_sandbox_track(pid_t pid);
void bake_sandbox_untrack(pid_t pid);
/// Waits for a tracked sandbox's init to exit, untracks it, then reaps it into `status`
/// (waitpid's format). 0, or -1 with errno.
int bake_sandbox_wait(pid_t pid, int *status);

/// Starts `path` with `argv` and `envp` in a new UTS namespace with `hostname`, umask
/// `mask`, and stdout on `stdout_fd` (-1: unchanged); the rest is inherited. In a new mount
/// namespace (whose mounts never propagate back), each existing `bind_targets[i]` shows
/// the file `bind_sources[i]` instead (`bind_count` pairs). Returns the pid, or -1 with
/// errno. The child exits 126 if it cannot set itself up, 127 if it cannot exec.
pid_t bake_spawn_changed(const char *path, char *const argv[], char *const envp[], const char *hostname,
                         unsigned int mask, int stdout_fd, const char *const bind_sources[],
                         const char *const bind_targets[], int bind_count);

/// Sets the calling process's personality to Linux's default (PER_LINUX, no flags: no
/// `setarch --uname-2.6`, `linux32` or `-R` of a caller reaches bake's children). Returns
/// the previous personality, or -1 with errno.
int bake_personality_reset(void);
/// The calling process's personality.
int bake_personality_current(void);
#endif
