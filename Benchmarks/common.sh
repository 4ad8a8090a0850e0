# Shared by the benchmark scripts. Source it after `set -euo pipefail` and after
# setting BENCH to the script's name (used in messages):
#
#   BENCH=layer.sh
#   . "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"
#
# Sets RUNS (default 5), HERE (Benchmarks/), ROOT (the repo), WORK (Benchmarks/work or
# $BAKE_BENCH_WORK, created, absolute), and TREE_PROJECT, TREE, TREE_MARKER (where the
# generated tree lives). Defines die, say, need, q, build_bake (sets BAKE), ensure_tree
# and hyperfine_stats.

RUNS="${RUNS:-5}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
WORK="${BAKE_BENCH_WORK:-$HERE/work}"
mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"

die() { echo "$BENCH: error: $*" >&2; exit 1; }
say() { echo "$BENCH: $*" >&2; }

need() { # need COMMAND "how to get it"
    command -v "$1" >/dev/null 2>&1 || die "'$1' not found; $2"
}

q() { printf '%q' "$1"; }

build_bake() { # sets BAKE to the release binary
    say "building bake (swift build -c release)"
    (cd "$ROOT" && swift build -c release) >&2 || die "swift build -c release failed"
    BAKE="$ROOT/.build/release/bake"
    [ -x "$BAKE" ] || die "no binary at $BAKE after the build"
}

# The tree gen_tree.py writes (10,000 files, ~165 MB), generated once and shared by the
# scripts; layer.sh builds it in place as the image `bench` of TREE_PROJECT.
TREE_PROJECT="$WORK/project"
TREE="$TREE_PROJECT/images/bench/data"
TREE_MARKER="$WORK/tree.ok"

ensure_tree() { # generates TREE unless TREE_MARKER holds the hash of the current gen_tree.py
    local gen="$HERE/gen_tree.py" gen_id
    gen_id="$(sha256sum "$gen" | cut -d' ' -f1)"
    if [ -f "$TREE_MARKER" ] && [ "$(cat "$TREE_MARKER")" = "$gen_id" ] && [ -d "$TREE" ]; then
        say "tree already generated in $TREE"
    else
        say "generating the tree in $TREE"
        rm -rf "$TREE_PROJECT" "$TREE_MARKER"
        python3 "$gen" "$TREE"
        echo "$gen_id" >"$TREE_MARKER"
    fi
}

hyperfine_stats() { # hyperfine_stats JSON NAME... -> "median min max" of each named command, on one line
    python3 - "$@" <<'EOF'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
out = []
for name in sys.argv[2:]:
    t = r[name]
    out += [t["median"], min(t["times"]), max(t["times"])]
print(*out)
EOF
}
