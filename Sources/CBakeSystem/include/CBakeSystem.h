#ifndef BAKE_CSYSTEM_H
#define BAKE_CSYSTEM_H
// Linux headers that Swift's Glibc module does not bring in.
#include <sys/types.h>
#include <sys/xattr.h>
#include <sys/file.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <fcntl.h>
#include <unistd.h>

/// uname(2)'s machine field ("x86_64"), copied into buf.
int bake_machine(char *buf, int size);

/// openat2(2) with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS: opens
/// `path` below `dirfd` without following any symlink on the way. -1 and errno on failure
/// (ENOSYS on kernels before 5.6).
int bake_open_beneath(int dirfd, const char *path, int flags);

/// syncfs(2): writes the file system holding `fd` to disk. 0, or -1 and errno.
int bake_syncfs(int fd);
#endif
