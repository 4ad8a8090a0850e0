#ifndef BAKE_CZLIB_SHIM_H
#define BAKE_CZLIB_SHIM_H
#include <zlib.h>

// zlib's init functions are macros; expose them as functions Swift can call.
static inline int bake_deflateInit2(z_streamp strm, int level, int windowBits, int memLevel, int strategy) {
    return deflateInit2(strm, level, Z_DEFLATED, windowBits, memLevel, strategy);
}
static inline int bake_inflateInit2(z_streamp strm, int windowBits) {
    return inflateInit2(strm, windowBits);
}
#endif
