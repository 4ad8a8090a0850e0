#ifndef BAKE_SECCOMP_PROFILE_H
#define BAKE_SECCOMP_PROFILE_H
#include <linux/filter.h>

/// The sandbox's seccomp program (see seccomp_profile.c), built by libseccomp once per
/// process. 0 with the program, or an errno value (the program is then NULL).
int bake_seccomp_program(const struct sock_fprog **program);
#endif
