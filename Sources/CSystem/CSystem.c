#include "CSystem.h"
#include <string.h>

int bake_machine(char *buf, int size) {
    struct utsname u;
    if (uname(&u) != 0) return -1;
    strncpy(buf, u.machine, (size_t)size - 1);
    buf[size - 1] = 0;
    return 0;
}
