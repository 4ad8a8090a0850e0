#!/usr/bin/env bash
# Benchmark: pushing the example app image to a loopback registry, bake push vs. skopeo copy.
#
#   bash Benchmarks/push.sh          (from the repo root; RUNS=5 by default)
#
# Builds bake (release) and the example pipeline (bake build app), starts Debian's
# docker-registry on 127.0.0.1, and for each run, for each tool:
#   first push    into an emptied registry (the registry is restarted on a fresh folder)
#   repeat push   the same image again (every blob is already there)
# bake pushes from its store; skopeo copies from the same store (.bake/oci is an OCI layout),
# so both send the same blobs. Prints a markdown table: median seconds, min-max, ratio
# skopeo / bake, and the bytes of the image. Also checks both pushes give the same digest.
set -euo pipefail

BENCH=push.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"

need docker-registry "install it: apt-get install docker-registry"
need skopeo "install it: apt-get install skopeo"
need python3 "install it: apt-get install python3"
need curl "install it: apt-get install curl"

build_bake
mkdir -p "$WORK/push-bin"
cp "$BAKE" "$WORK/push-bin/bake"
BAKE="$WORK/push-bin/bake"
say "building the example app image"
(cd "$ROOT" && "$BAKE" build app >/dev/null)
DIGEST="$(cd "$ROOT" && "$BAKE" inspect app --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["digest"])')"
SIZE="$(cd "$ROOT" && "$BAKE" inspect app --json | python3 -c 'import json,sys; print(sum(l["size"] for l in json.load(sys.stdin)["layers"]))')"

PORT="$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")"
REG="$WORK/push-registry"
REG_PID=""
stop_registry() { if [ -n "$REG_PID" ]; then kill "$REG_PID" 2>/dev/null || true; wait "$REG_PID" 2>/dev/null || true; REG_PID=""; fi; }
trap stop_registry EXIT
start_registry() { # a registry on an empty folder
    stop_registry
    rm -rf "$REG"
    mkdir -p "$REG"
    cat >"$REG/config.yml" <<CONF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $REG/data
http:
  addr: 127.0.0.1:$PORT
CONF
    docker-registry serve "$REG/config.yml" >"$REG/log" 2>&1 &
    REG_PID=$!
    for _ in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$PORT/v2/" && return 0
        sleep 0.05
    done
    die "docker-registry did not start: $(cat "$REG/log")"
}

now() { date +%s.%N; }
RESULTS="$WORK/push-results.txt"
: >"$RESULTS"
for run in $(seq "$RUNS"); do
    say "run $run of $RUNS"
    # bake: forget which repositories had which blobs (no mounts from an earlier run's registry).
    start_registry
    rm -f "$ROOT/.bake/registry/known-blobs.json"
    t0=$(now); (cd "$ROOT" && "$BAKE" push app "127.0.0.1:$PORT/bench/app" --tag latest --insecure >/dev/null 2>&1); t1=$(now)
    (cd "$ROOT" && "$BAKE" push app "127.0.0.1:$PORT/bench/app" --tag latest --insecure >/dev/null 2>&1); t2=$(now)
    got="$(skopeo inspect --tls-verify=false "docker://127.0.0.1:$PORT/bench/app:latest" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Digest"])')"
    [ "$got" = "$DIGEST" ] || die "bake pushed $got, not $DIGEST"
    echo "bake first $(python3 -c "print($t1 - $t0)")" >>"$RESULTS"
    echo "bake repeat $(python3 -c "print($t2 - $t1)")" >>"$RESULTS"

    start_registry
    t0=$(now); skopeo copy --dest-tls-verify=false "oci:$ROOT/.bake/oci:app" "docker://127.0.0.1:$PORT/bench/app:latest" >/dev/null 2>&1; t1=$(now)
    skopeo copy --dest-tls-verify=false "oci:$ROOT/.bake/oci:app" "docker://127.0.0.1:$PORT/bench/app:latest" >/dev/null 2>&1; t2=$(now)
    got="$(skopeo inspect --tls-verify=false "docker://127.0.0.1:$PORT/bench/app:latest" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Digest"])')"
    [ "$got" = "$DIGEST" ] || die "skopeo pushed $got, not $DIGEST"
    echo "skopeo first $(python3 -c "print($t1 - $t0)")" >>"$RESULTS"
    echo "skopeo repeat $(python3 -c "print($t2 - $t1)")" >>"$RESULTS"
done

python3 - "$RESULTS" "$SIZE" "$RUNS" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    tool, scenario, seconds = line.split()
    rows.setdefault((scenario, tool), []).append(float(seconds))
print(f"app image: {int(sys.argv[2]) / 1e6:.1f} MB of compressed layers, {sys.argv[3]} runs each\n")
print("| scenario | tool | median s | min–max s | ratio (skopeo / tool) |")
print("|---|---|---:|---:|---:|")
for scenario in ("first", "repeat"):
    ref = statistics.median(rows[(scenario, "skopeo")])
    for tool in ("bake", "skopeo"):
        values = rows[(scenario, tool)]
        median = statistics.median(values)
        print(f"| {scenario} push | {tool} | {median:.3f} | {min(values):.3f}–{max(values):.3f} | {ref / median:.2f}x |")
PY
