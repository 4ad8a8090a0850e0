#define _GNU_SOURCE
#include "CBakeSystem.h"
#include <string.h>
#include <errno.h>
#include <sys/syscall.h>
#include <linux/openat2.h>

int bake_machine(char *buf, int size) {
    struct utsname u;
    if (uname(&u) != 0) return -1;
    strncpy(buf, u.machine, (size_t)size - 1);
    buf[size - 1] = 0;
    return 0;
}

int bake_open_beneath(int dirfd, const char *path, int flags) {
#ifdef SYS_openat2
    struct open_how how;
    memset(&how, 0, sizeof(how));
    how.flags = (unsigned long long)flags;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
#else
    errno = ENOSYS;
    return -1;
#endif
}

int bake_syncfs(int fd) {
    return syncfs(fd);
}
