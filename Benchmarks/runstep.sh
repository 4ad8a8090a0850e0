#!/usr/bin/env bash
# What one `run:` step costs: the sandbox's start (namespaces, overlay, mounts, seccomp,
# cgroup), the command, and the capture of its (empty) changes.
#
#   bash Benchmarks/runstep.sh                 # from the repo root, as root; RUNS=10 by default
#   BAKE=/path/to/bake bash Benchmarks/runstep.sh   # time a given binary (no build)
#
# Two images on a busybox-static root (copied from the host's /bin/busybox), each built with
# --no-cache so every step runs: `zero` (the copy of the root file system only) and `five`
# (the same copy, then five `run: "true"` steps). The overhead of one run step is
# (five - zero) / 5: the copy, bake's start and the image's assembly cancel out.
set -euo pipefail
BENCH=runstep.sh
RUNS="${RUNS:-10}"
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"

[ "$(id -u)" = 0 ] || die "must run as root (run steps need namespaces and mounts)"
need hyperfine "install the Debian package 'hyperfine'"
need python3 "install the Debian package 'python3'"
[ -x /bin/busybox ] || die "/bin/busybox not found; install the Debian package 'busybox-static'"
if [ -z "${BAKE:-}" ]; then build_bake; fi

PROJECT="$WORK/runstep-project"
STORE="$WORK/runstep-store"
rm -rf "$PROJECT" "$STORE"
mkdir -p "$PROJECT/images/zero/rootfs/bin" "$PROJECT/images/five"
cp /bin/busybox "$PROJECT/images/zero/rootfs/bin/busybox"
for applet in sh true; do ln -s busybox "$PROJECT/images/zero/rootfs/bin/$applet"; done
cat >"$PROJECT/images/zero/stage.yaml" <<'EOF'
from: scratch
steps:
  - copy: rootfs/
    to: /
EOF
cp -a "$PROJECT/images/zero/rootfs" "$PROJECT/images/five/rootfs"
{
    cat "$PROJECT/images/zero/stage.yaml"
    for step in 1 2 3 4 5; do printf '  - run: "true # %s"\n' "$step"; done
} >"$PROJECT/images/five/stage.yaml"

build() { echo "$(q "$BAKE") -C $(q "$PROJECT") --store $(q "$STORE") --progress plain build --no-cache $1"; }
# Once untimed: both build, and unpacked layers exist before the timing.
eval "$(build zero)" >/dev/null
eval "$(build five)" >/dev/null

hyperfine --warmup 2 --runs "$RUNS" --export-json "$WORK/runstep.json" \
    -n zero "$(build zero)" -n five "$(build five)" >&2

read -r zero_median zero_min zero_max five_median five_min five_max < <(hyperfine_stats "$WORK/runstep.json" zero five)
python3 - "$zero_median" "$zero_min" "$zero_max" "$five_median" "$five_min" "$five_max" <<'EOF'
import sys
z, zmin, zmax, f, fmin, fmax = map(float, sys.argv[1:])
print("| image | median s | min–max s |")
print("|---|---:|---:|")
print(f"| zero (copy only) | {z:.3f} | {zmin:.3f}–{zmax:.3f} |")
print(f"| five (copy + 5 run steps) | {f:.3f} | {fmin:.3f}–{fmax:.3f} |")
print()
print(f"- one run step: {(f - z) / 5 * 1000:.1f} ms (median difference / 5)")
EOF
echo "- cores: $(nproc); raw results: $WORK/runstep.json"
