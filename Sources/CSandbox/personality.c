// The process personality bake and everything it starts run with (see CSandbox.h).
#include "CSandbox.h"
#include <sys/personality.h>

int bake_personality_reset(void) { return personality(PER_LINUX); }

int bake_personality_current(void) { return personality(0xffffffff); }
