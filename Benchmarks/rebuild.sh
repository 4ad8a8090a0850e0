#!/usr/bin/env bash
# Benchmark: cached rebuilds of a three-image chain, bake vs. buildah bud --layers.
#
#   bash Benchmarks/rebuild.sh          (from the repo root; RUNS=5 by default)
#   RUNS=10 BAKE_BENCH_WORK=/fast/disk bash Benchmarks/rebuild.sh
#
# Builds bake (release), reuses the generated 10,000-file / ~165 MB tree of layer.sh,
# copies it into a bake project (base -> app-base -> app, where app copies the tree)
# and into a buildah context with the equivalent Containerfile, builds both once
# (cold, untimed), then times from a warm page cache, in one hyperfine run:
#   no-op rebuild     nothing changed
#   one-file change   one file of data/ rewritten before each run (--prepare)
#   full rebuild      --no-cache (every step rebuilt; the reference cost of the data layer)
# and prints a markdown table: median seconds, min-max, ratio buildah / bake, plus the
# targets (no-op under 50 ms, no-op at least 20x faster than buildah).
# See Benchmarks/README.md.
set -euo pipefail

BENCH=rebuild.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"

LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- tools -----------------------------------------------------------------
need hyperfine "install it: apt-get install hyperfine (Debian package 'hyperfine')"
need python3 "install it: apt-get install python3 (Debian package 'python3')"
need buildah "install it: apt-get install buildah (Debian package 'buildah')"
need swift "install a Swift toolchain from https://swift.org/install (no Debian package)"
[ "$(id -u)" -eq 0 ] || die "run as root: buildah with vfs storage and chroot isolation needs it here, and so does bake"

# --- build bake --------------------------------------------------------------
build_bake
# Time a private copy, so that a `swift build` run in the repo meanwhile cannot swap the binary
# under the benchmark (its libraries come from the toolchain, not from .build).
mkdir -p "$WORK/rebuild-bin"
cp "$BAKE" "$WORK/rebuild-bin/bake"
REPO_BAKE="$BAKE"
REPO_BAKE_ID="$(stat -c %Y.%s "$REPO_BAKE")"
BAKE="$WORK/rebuild-bin/bake"
SRC_STATE="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
[ -z "$(git -C "$ROOT" status --porcelain -- Sources Package.swift 2>/dev/null)" ] || SRC_STATE="$SRC_STATE + uncommitted changes to Sources"

# --- the tree ----------------------------------------------------------------
ensure_tree
N_FILES="$(find "$TREE" -type f | wc -l)"
[ "$N_FILES" -eq 10000 ] || die "expected 10000 files in $TREE, found $N_FILES (delete $TREE_MARKER to regenerate)"
SRC_BYTES="$(find "$TREE" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')"

# --- the bake project and the buildah context ---------------------------------
# Fresh every run: real copies of the tree (cp -a, not hard links: bake would see the
# links and store them as such), a fresh bake store and a fresh buildah storage.
PROJ="$WORK/rebuild-project"
CTX="$WORK/rebuild-context"
STORE="$WORK/rebuild-store"
BROOT="$WORK/buildah/root"
BRUN="$WORK/buildah/run"
say "copying the tree into $PROJ and $CTX (fresh bake store and buildah storage)"
rm -rf "$PROJ" "$CTX" "$STORE" "$WORK/buildah"
mkdir -p "$PROJ/images/base/rootfs/etc" "$PROJ/images/app-base/etc" "$PROJ/images/app" "$CTX"

cat >"$PROJ/images/base/rootfs/etc/os-release" <<'EOF'
PRETTY_NAME="bake rebuild benchmark"
NAME="bench"
ID=bench
VERSION_ID="1"
EOF
cat >"$PROJ/images/base/rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
cat >"$PROJ/images/base/rootfs/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
cat >"$PROJ/images/app-base/etc/app.conf" <<'EOF'
listen = 0.0.0.0:8080
data = /srv/data
EOF
cat >"$PROJ/images/base/stage.yaml" <<'EOF'
from: scratch
steps:
  - copy: rootfs/
    to: /
EOF
cat >"$PROJ/images/app-base/stage.yaml" <<'EOF'
from: base
steps:
  - copy: etc/
    to: /etc/
EOF
cat >"$PROJ/images/app/stage.yaml" <<'EOF'
from: app-base
steps:
  - copy: data/
    to: /srv/data/
EOF
cp -a "$TREE" "$PROJ/images/app/data"

cp -a "$PROJ/images/base/rootfs" "$CTX/rootfs"
cp -a "$PROJ/images/app-base/etc" "$CTX/etc"
cp -a "$TREE" "$CTX/data"
cat >"$CTX/Containerfile" <<'EOF'
FROM scratch
COPY rootfs/ /
COPY etc/ /etc/
COPY data/ /srv/data/
EOF

# The file the one-file change rewrites (same path in both copies): the first in byte order.
CHANGE_REL="$(cd "$TREE" && find . -type f | LC_ALL=C sort | awk 'NR == 1 {print substr($0, 3)}')"
[ -n "$CHANGE_REL" ] || die "no file to change in $TREE"
BAKE_FILE="$PROJ/images/app/data/$CHANGE_REL"
CTX_FILE="$CTX/data/$CHANGE_REL"
# A new value every time, so that no run can hit a layer an earlier run made.
change() { printf 'rebuild.sh change %s\n' "$(date +%s.%N)" >"$1"; }

BAKE_CMD="$(q "$BAKE") -C $(q "$PROJ") --store $(q "$STORE") build app"
BUILDAH_CMD="buildah --root $(q "$BROOT") --runroot $(q "$BRUN") --storage-driver vfs bud --layers --isolation chroot -t bench-app -f $(q "$CTX/Containerfile") $(q "$CTX")"
CHANGE_BAKE="printf 'rebuild.sh change %s\n' \"\$(date +%s.%N)\" > $(q "$BAKE_FILE")"
CHANGE_CTX="printf 'rebuild.sh change %s\n' \"\$(date +%s.%N)\" > $(q "$CTX_FILE")"

# bake's stat cache does not remember files changed in the last 2 seconds (racy stat), so
# let the copies age before the first build: later builds then only stat them.
sleep 3

# --- cold builds and checks (untimed) ---------------------------------------------
steps_of() { # steps_of JSONL -> "image/step:status ..." from bake --progress json
    python3 - "$1" <<'EOF'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(" ".join(f'{e["image"]}/{e["step"]}:{e["status"]}' for e in ev if e.get("event") == "step"))
EOF
}
reason_of() { # reason_of JSONL -> the miss reasons of built steps
    python3 - "$1" <<'EOF'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("; ".join(f'{e["image"]}/{e["step"]}: {e.get("reason", "")}' for e in ev
                if e.get("event") == "step" and e["status"] == "built"))
EOF
}
run_bake_json() { # run_bake_json OUT [build options...]
    local out="$1"; shift
    "$BAKE" -C "$PROJ" --store "$STORE" --progress json build "$@" app >"$out" 2>"$out.err" \
        || { cat "$out.err" >&2; die "bake failed; reproduce with: $BAKE -C $PROJ --store $STORE --progress json build $* app"; }
}
run_buildah() { # run_buildah OUT [bud options...]
    local out="$1"; shift
    buildah --root "$BROOT" --runroot "$BRUN" --storage-driver vfs bud --layers --isolation chroot "$@" \
            -t bench-app -f "$CTX/Containerfile" "$CTX" >"$out" 2>&1 \
        || { cat "$out" >&2; die "buildah failed; reproduce with: $BUILDAH_CMD"; }
}
now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$(now)"; }

say "cold build: bake"
T0="$(now)"; run_bake_json "$WORK/rebuild-cold.jsonl"; BAKE_COLD_S="$(since "$T0")"
[ "$(steps_of "$WORK/rebuild-cold.jsonl")" = "base/1:built app-base/1:built app/1:built" ] \
    || die "bake's cold build should report base/1, app-base/1 and app/1 built; it reported: $(steps_of "$WORK/rebuild-cold.jsonl")"
say "cold build: buildah"
T0="$(now)"; run_buildah "$WORK/rebuild-buildah-cold.out"; BUILDAH_COLD_S="$(since "$T0")"

say "checking the no-op rebuilds"
STAMP="$WORK/rebuild-stamp"
touch "$STAMP"
run_bake_json "$WORK/rebuild-noop.jsonl"
BAKE_NOOP_STEPS="$(steps_of "$WORK/rebuild-noop.jsonl")"
[ "$BAKE_NOOP_STEPS" = "base/1:cached app-base/1:cached app/1:cached" ] \
    || die "bake's no-op rebuild should report base/1, app-base/1 and app/1 cached; it reported: $BAKE_NOOP_STEPS"
STORE_WRITES="$(find "$STORE" -newer "$STAMP" | wc -l)"
run_buildah "$WORK/rebuild-buildah-noop.out"
BUILDAH_NOOP_HITS="$(grep -c 'Using cache' "$WORK/rebuild-buildah-noop.out" || true)"
[ "$BUILDAH_NOOP_HITS" -eq 3 ] \
    || die "buildah's no-op rebuild used its cache for $BUILDAH_NOOP_HITS of 3 steps (see $WORK/rebuild-buildah-noop.out)"

say "checking the one-file-change rebuilds ($CHANGE_REL)"
change "$BAKE_FILE"
run_bake_json "$WORK/rebuild-change.jsonl"
BAKE_CHANGE_STEPS="$(steps_of "$WORK/rebuild-change.jsonl")"
BAKE_CHANGE_REASON="$(reason_of "$WORK/rebuild-change.jsonl")"
[ "$BAKE_CHANGE_STEPS" = "base/1:cached app-base/1:cached app/1:built" ] \
    || die "bake's one-file-change rebuild should report base/1 and app-base/1 cached and app/1 built; it reported: $BAKE_CHANGE_STEPS"
change "$CTX_FILE"
run_buildah "$WORK/rebuild-buildah-change.out"
BUILDAH_CHANGE_HITS="$(grep -c 'Using cache' "$WORK/rebuild-buildah-change.out" || true)"
grep -A1 '^STEP 4/4' "$WORK/rebuild-buildah-change.out" | grep -q 'Using cache' \
    && die "buildah reused its data layer after a change (see $WORK/rebuild-buildah-change.out)"
[ "$BUILDAH_CHANGE_HITS" -eq 2 ] \
    || die "buildah's one-file-change rebuild used its cache for $BUILDAH_CHANGE_HITS steps, not the first 2 (see $WORK/rebuild-buildah-change.out)"
# Let the changed files age past the racy window; hyperfine's warmup runs then see a quiet tree.
sleep 3

# --- timings ------------------------------------------------------------------
say "timing: hyperfine, $RUNS runs each after 1 warmup"
JSON="$WORK/rebuild.json"
# Each timed command appends its stdout to a log (a few hundred bytes per run, as cheap as
# /dev/null), so that every run, warmups included, can be checked afterwards: bake prints
# `app sha256:...` when it has built app and named it, buildah `Successfully tagged`.
# Every one-file-change and --no-cache run of bake must also have built app's step, which
# leaves a build record in the store.
LOGS="$WORK/rebuild-logs"
rm -rf "$LOGS" && mkdir -p "$LOGS"
to_log() { printf ' >> %s' "$(q "$LOGS/$1.log")"; }
APP_RECORDS_BEFORE="$(find "$STORE/builds/app" -type f | wc -l)"
BUILDAH_FULL_CMD="${BUILDAH_CMD/ bud --layers / bud --layers --no-cache }"
hyperfine --runs "$RUNS" --warmup 1 --style basic --shell bash \
    --export-json "$JSON" \
    --prepare true --command-name 'noop bake' "$BAKE_CMD$(to_log noop-bake)" \
    --prepare true --command-name 'noop buildah' "$BUILDAH_CMD$(to_log noop-buildah) 2>&1" \
    --prepare "$CHANGE_BAKE" --command-name 'change bake' "$BAKE_CMD$(to_log change-bake)" \
    --prepare "$CHANGE_CTX" --command-name 'change buildah' "$BUILDAH_CMD$(to_log change-buildah) 2>&1" \
    --prepare true --command-name 'full bake' "$BAKE_CMD --no-cache$(to_log full-bake)" \
    --prepare true --command-name 'full buildah' "$BUILDAH_FULL_CMD$(to_log full-buildah) 2>&1" >&2

# --- checks on the timed runs -------------------------------------------------------
N=$((RUNS + 1))
count() { grep -c -e "$1" "$LOGS/$2.log" || true; }
APP_BUILDS=$(($(find "$STORE/builds/app" -type f | wc -l) - APP_RECORDS_BEFORE))
TIMED_BAKE="no-op $(count '^app sha256:' noop-bake)/$N, one-file change $(count '^app sha256:' change-bake)/$N, full $(count '^app sha256:' full-bake)/$N"
TIMED_BUILDAH="no-op $(count 'Successfully tagged' noop-buildah)/$N, one-file change $(count 'Successfully tagged' change-buildah)/$N, full $(count 'Successfully tagged' full-buildah)/$N"
TIMED_CACHE="no-op $(count 'Using cache' noop-buildah)/$((3 * N)), one-file change $(count 'Using cache' change-buildah)/$((2 * N)), full $(count 'Using cache' full-buildah)/0"
TIMED_OK=yes
for pair in "$TIMED_BAKE" "$TIMED_BUILDAH" "$TIMED_CACHE"; do
    for f in $(echo "$pair" | grep -o '[0-9]*/[0-9]*'); do
        [ "${f%/*}" = "${f#*/}" ] || TIMED_OK=no
    done
done
[ "$APP_BUILDS" -eq $((2 * N)) ] || TIMED_OK=no

STATS="$(hyperfine_stats "$JSON" 'noop bake' 'noop buildah' 'change bake' 'change buildah' 'full bake' 'full buildah')"

# --- report ----------------------------------------------------------------------
# shellcheck disable=SC2086
python3 - $STATS <<'EOF'
import sys
v = list(map(float, sys.argv[1:]))
rows = [("no-op rebuild", v[0:6]), ("one-file change", v[6:12]), ("full rebuild (--no-cache)", v[12:18])]
print("| scenario | tool | median s | min–max s | ratio (buildah / bake) |")
print("|---|---|---:|---:|---:|")
for name, (bm, bmin, bmax, hm, hmin, hmax) in rows:
    print(f"| {name} | bake | {bm:.3f} | {bmin:.3f}–{bmax:.3f} | {hm / bm:.1f}x |")
    print(f"| {name} | buildah | {hm:.3f} | {hmin:.3f}–{hmax:.3f} | 1.0x |")
noop, noop_b = v[0], v[3]
change, change_b, full, full_b = v[6], v[9], v[12], v[15]
print()
print(f"- bake no-op rebuild: {noop * 1000:.1f} ms median (target < 50 ms): {'PASS' if noop < 0.050 else 'MISS'}")
print(f"- no-op speed-up over buildah's cached rebuild: {noop_b / noop:.1f}x (target >= 20x): "
      f"{'PASS' if noop_b / noop >= 20 else 'MISS'}")
print(f"- one-file change / full rebuild: bake {change / full:.2f} ({change:.3f} s / {full:.3f} s), "
      f"buildah {change_b / full_b:.2f} ({change_b:.3f} s / {full_b:.3f} s)")
EOF
echo
echo "- cores (nproc): $(nproc); load average (1, 5, 15 min) when the script started: $LOAD_START"
echo "- runs: $RUNS (median, after 1 warmup, warm page cache); first (cold, untimed) builds: bake $BAKE_COLD_S s, buildah $BUILDAH_COLD_S s"
echo "- source: $N_FILES files, $(python3 -c "print(f'{$SRC_BYTES/1e6:.1f}')") MB, copied (cp -a) to $PROJ/images/app/data and $CTX/data"
echo "- changed file: data/$CHANGE_REL (rewritten with a new value before every one-file-change run)"
echo "- untimed checks, bake: no-op $BAKE_NOOP_STEPS, files in the store written by it: $STORE_WRITES; one-file change $BAKE_CHANGE_STEPS ($BAKE_CHANGE_REASON)"
echo "- untimed checks, buildah: 'Using cache' for $BUILDAH_NOOP_HITS of 3 steps in a no-op, for $BUILDAH_CHANGE_HITS of 3 after a one-file change (COPY data/ rebuilt)"
echo "- timed runs, warmups included (logs in $LOGS): bake printed app's digest in $TIMED_BAKE; recorded a build of app in $APP_BUILDS/$((2 * N)) one-file-change and full runs; buildah tagged bench-app in $TIMED_BUILDAH, and printed 'Using cache' in $TIMED_CACHE"
echo "- tools: bake $("$BAKE" --version) (built from $SRC_STATE), $(buildah --version), vfs storage, chroot isolation; $(hyperfine --version)"
if [ "$(stat -c %Y.%s "$REPO_BAKE" 2>/dev/null || true)" != "$REPO_BAKE_ID" ]; then
    echo "- WARNING: $REPO_BAKE was rebuilt while this ran: another build competed for the cores; run again on an idle machine"
fi
if [ "$TIMED_OK" != yes ]; then
    echo "- WARNING: some timed runs did not do what their scenario requires (see the line on timed runs above and $LOGS); their times are in the medians"
fi
