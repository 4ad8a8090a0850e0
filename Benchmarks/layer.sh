#!/usr/bin/env bash
# Benchmark: one big `copy:` layer, bake vs. tar | gzip -6.
#
#   bash Benchmarks/layer.sh            (from the repo root; RUNS=5 by default)
#   RUNS=10 BAKE_BENCH_WORK=/fast/disk bash Benchmarks/layer.sh
#
# Builds bake (release), generates a fixed tree of 10,000 files / ~165 MB once,
# then times, on that same tree and from a warm page cache:
#   bake      bake -C WORK/project --store WORK/stores/run build bench   (fresh store each run)
#   tar|gzip  tar --sort=name ... --format=pax -cf - -C DATA . | gzip -6 > WORK/out.tar.gz
# and prints a markdown table: median seconds, speed ratio, peak RSS, output size.
# See Benchmarks/README.md.
set -euo pipefail

BENCH=layer.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"

# --- tools -----------------------------------------------------------------
need hyperfine "install it: apt-get install hyperfine (Debian package 'hyperfine')"
[ -x /usr/bin/time ] && /usr/bin/time -f %M true >/dev/null 2>&1 \
    || die "GNU time not found at /usr/bin/time; install it: apt-get install time (Debian package 'time')"
need python3 "install it: apt-get install python3 (Debian package 'python3')"
need tar "install it: apt-get install tar (Debian package 'tar')"
need gzip "install it: apt-get install gzip (Debian package 'gzip')"
need swift "install a Swift toolchain from https://swift.org/install (no Debian package)"
tar --version | head -1 | grep -q 'GNU tar' || die "GNU tar is required (--sort=name); Debian package 'tar'"

# --- build bake --------------------------------------------------------------
build_bake

# --- the tree ----------------------------------------------------------------
ensure_tree
PROJECT="$TREE_PROJECT"
DATA="$TREE"
MARKER="$TREE_MARKER"
cat >"$PROJECT/images/bench/stage.yaml" <<'EOF'
from: scratch
steps:
  - copy: data/
    to: /data/
EOF
SRC_FILES="$(find "$DATA" -type f | wc -l)"
SRC_BYTES="$(find "$DATA" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')"
[ "$SRC_FILES" -eq 10000 ] || die "expected 10000 files in $DATA, found $SRC_FILES (delete $MARKER to regenerate)"

STORES="$WORK/stores"
OUT="$WORK/out.tar.gz"
mkdir -p "$STORES"
BAKE_CMD="$(q "$BAKE") -C $(q "$PROJECT") --store $(q "$STORES/run") build bench"
TAR_ARGS="--sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 --format=pax -cf - -C $(q "$DATA") ."
TAR_CMD="set -o pipefail; tar $TAR_ARGS | gzip -6 > $(q "$OUT")"

largest_blob() { # largest_blob STORE -> path of the largest blob (the layer)
    find "$1/oci/blobs/sha256" -type f -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2-
}

# --- one checked run of each, with peak memory --------------------------------
# GNU time reports ru_maxrss of the process it waits for; for `bash -c 'a | b'`
# that is the largest single descendant, not the sum. tar and gzip run at the
# same time, so we time each side of the pipe and add them up.
say "peak memory: one bake run"
RSS_STORE="$STORES/rss"
rm -rf "$RSS_STORE"
if ! /usr/bin/time -o "$WORK/bake.rss" -f %M "$BAKE" -C "$PROJECT" --store "$RSS_STORE" build bench \
        >"$WORK/bake.out" 2>"$WORK/bake.err"; then
    cat "$WORK/bake.err" >&2
    die "bake failed; reproduce with: $BAKE -C $PROJECT --store $RSS_STORE build bench"
fi
BAKE_RSS_KB="$(tail -1 "$WORK/bake.rss")"
BAKE_DIGEST="$(cat "$WORK/bake.out")"

say "peak memory: one tar | gzip run"
rm -f "$OUT"
/usr/bin/time -o "$WORK/tar.rss" -f %M tar --sort=name --owner=0 --group=0 --numeric-owner \
        --mtime=@0 --format=pax -cf - -C "$DATA" . \
    | /usr/bin/time -o "$WORK/gzip.rss" -f %M gzip -6 >"$OUT"
TAR_RSS_KB="$(tail -1 "$WORK/tar.rss")"
GZIP_RSS_KB="$(tail -1 "$WORK/gzip.rss")"
PIPE_RSS_KB=$((TAR_RSS_KB + GZIP_RSS_KB))

# --- timings ------------------------------------------------------------------
say "timing: hyperfine, $RUNS runs each after 1 warmup"
JSON="$WORK/layer.json"
hyperfine --runs "$RUNS" --warmup 1 --style basic --shell bash \
    --export-json "$JSON" \
    --prepare "rm -rf $(q "$STORES/run")" --command-name bake "$BAKE_CMD" \
    --prepare "rm -f $(q "$OUT")" --command-name 'tar|gzip' "$TAR_CMD" >&2

read -r BAKE_MED BAKE_MIN BAKE_MAX TAR_MED TAR_MIN TAR_MAX < <(hyperfine_stats "$JSON" bake 'tar|gzip')

# --- checks on the outputs -------------------------------------------------------
BLOB="$(largest_blob "$RSS_STORE")"
BLOB_RUN="$(largest_blob "$STORES/run")"
[ "$(basename "$BLOB")" = "$(basename "$BLOB_RUN")" ] \
    || die "bake is not deterministic: layer $(basename "$BLOB") vs $(basename "$BLOB_RUN") on the same tree"
BAKE_SIZE="$(stat -c %s "$BLOB")"
TAR_SIZE="$(stat -c %s "$OUT")"
LAYER_FILES="$(tar -tzf "$BLOB" | grep -v '/$' | wc -l)"
# Same names and same bytes as the source.
VERIFY="$WORK/verify"
rm -rf "$VERIFY" && mkdir -p "$VERIFY"
tar -xzf "$BLOB" -C "$VERIFY"
if diff -r "$DATA" "$VERIFY/data" >"$WORK/verify.diff" 2>&1; then
    SAME="yes"
else
    SAME="NO (see $WORK/verify.diff)"
fi
rm -rf "$VERIFY"
gzip -t "$BLOB" || die "the bake layer is not valid gzip: $BLOB"

# --- report ----------------------------------------------------------------------
python3 - "$BAKE_MED" "$TAR_MED" "$BAKE_MIN" "$BAKE_MAX" "$TAR_MIN" "$TAR_MAX" \
    "$BAKE_RSS_KB" "$TAR_RSS_KB" "$GZIP_RSS_KB" "$PIPE_RSS_KB" "$BAKE_SIZE" "$TAR_SIZE" <<'EOF'
import sys
bm, tm, bmin, bmax, tmin, tmax = map(float, sys.argv[1:7])
brss, trss, grss, prss, bsize, tsize = map(int, sys.argv[7:13])
mib = lambda kb: kb / 1024
mb = lambda b: b / 1e6
print("| tool | median s | min–max s | ratio (tar\\|gzip / tool) | peak RSS MiB | output MB |")
print("|---|---:|---:|---:|---:|---:|")
print(f"| bake | {bm:.3f} | {bmin:.3f}–{bmax:.3f} | {tm / bm:.2f}x | {mib(brss):.1f} | {mb(bsize):.2f} |")
print(f"| tar\\|gzip | {tm:.3f} | {tmin:.3f}–{tmax:.3f} | 1.00x | {mib(prss):.1f} (tar {mib(trss):.1f} + gzip {mib(grss):.1f}) | {mb(tsize):.2f} |")
EOF
echo
echo "- cores (nproc): $(nproc)"
echo "- runs: $RUNS (median, after 1 warmup, warm page cache)"
echo "- source: $SRC_FILES files, $(python3 -c "print(f'{$SRC_BYTES/1e6:.1f}')") MB in $DATA"
echo "- bake: $BAKE_DIGEST; layer $(basename "$BLOB")"
echo "- bake layer lists $LAYER_FILES files (expected 10000); same names and bytes as the source: $SAME"
echo "- tools: $(tar --version | head -1), $(gzip --version | head -1), $(hyperfine --version)"
[ "$LAYER_FILES" -eq 10000 ] || die "the bake layer lists $LAYER_FILES files, not 10000"
[ "$SAME" = "yes" ] || die "the bake layer does not match the source tree"
