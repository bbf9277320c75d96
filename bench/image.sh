#!/usr/bin/env bash
# Build and push an image with one 50 MB random layer, with flightdeck's
# pipeline/image and with `crane append` (go-containerregistry v0.22.1),
# against the same loopback registry in the same run. Prints the median of
# BENCH_RUNS runs (default 5) of each and the ratio (target: <= 1.10).
# Uses Debian's docker-registry when installed (unless BENCH_REGISTRY=in-process),
# else the in-process registry of bench/image.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${BENCH_RUNS:-5}
size_mb=${BENCH_LAYER_MB:-50}
tmp=$(mktemp -d)
reg_pid=""
cleanup() {
  if [ -n "$reg_pid" ]; then kill "$reg_pid" 2>/dev/null || true; wait "$reg_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

echo "== bench/image.sh: build+push a ${size_mb} MB layer, flightdeck vs crane append"
mkdir -p "$tmp/bin"
if ! GOBIN="$tmp/bin" GOFLAGS=-buildvcs=false go install github.com/google/go-containerregistry/cmd/crane@v0.22.1 2>"$tmp/crane-build.log"; then
  echo "skipped: could not build crane v0.22.1:"; tail -5 "$tmp/crane-build.log"; exit 0
fi
go build -o "$tmp/bin/fdimage" ./bench/image

mkdir -p "$tmp/data"
head -c $((size_mb * 1024 * 1024)) /dev/urandom > "$tmp/data/blob"
# crane append takes a layer tarball; prepare it outside the timed region.
tar --owner=0 --group=0 --numeric-owner -C "$tmp" -cf "$tmp/layer.tar" data/blob

if [ "${BENCH_REGISTRY:-}" != in-process ] && command -v docker-registry >/dev/null; then
  kind=docker-registry
  port=$("$tmp/bin/fdimage" freeport)
  cat > "$tmp/config.yml" <<CFG
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $tmp/storage
http:
  addr: 127.0.0.1:$port
CFG
  docker-registry serve "$tmp/config.yml" >"$tmp/registry.log" 2>&1 &
  reg_pid=$!
  host="127.0.0.1:$port"
else
  kind=in-process
  mkfifo "$tmp/hold"
  "$tmp/bin/fdimage" serve <"$tmp/hold" >"$tmp/addr" &
  reg_pid=$!
  exec 9>"$tmp/hold"   # keeps the server's stdin open until the script exits
  until [ -s "$tmp/addr" ]; do sleep 0.05; done
  host=$(head -1 "$tmp/addr")
fi
for _ in $(seq 1 200); do
  (exec 3<>"/dev/tcp/${host%:*}/${host##*:}") 2>/dev/null && break
  sleep 0.05
done

now() { date +%s%N; }
fd_times=(); crane_times=()
for i in $(seq 1 "$runs"); do
  # Alternate which tool goes first; every push goes to a fresh repository.
  for tool in $( [ $((i % 2)) -eq 1 ] && echo "fd crane" || echo "crane fd" ); do
    t0=$(now)
    if [ "$tool" = fd ]; then
      "$tmp/bin/fdimage" push -file "$tmp/data/blob" -ref "$host/bench/fd$i:v1" >/dev/null
      fd_times+=($(( $(now) - t0 )))
    else
      "$tmp/bin/crane" append -f "$tmp/layer.tar" -t "$host/bench/crane$i:v1" >/dev/null 2>&1
      crane_times+=($(( $(now) - t0 )))
    fi
  done
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
fd=$(median "${fd_times[@]}")
cr=$(median "${crane_times[@]}")
awk -v fd="$fd" -v cr="$cr" -v runs="$runs" -v kind="$kind" -v mb="$size_mb" 'BEGIN {
  printf "image build+push, %d MB random layer, %s registry, median of %d runs:\n", mb, kind, runs
  printf "  flightdeck pipeline/image  %.3f s\n", fd/1e9
  printf "  crane append v0.22.1       %.3f s\n", cr/1e9
  r = fd/cr
  printf "  ratio flightdeck/crane     %.2f (target <= 1.10: %s)\n", r, (r <= 1.10 ? "met" : "NOT met")
}'
