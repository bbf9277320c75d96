#!/usr/bin/env bash
# bench/rollback.sh — flightdeck's rollback against the script teams write
# today (`git clone`, `git revert <bad commit>`, `git push`), on a generated
# GitOps repository of 1000 apps x 3 environments and 3000 commits.
# Prints, side by side and from one run:
#   - the time from the failed verdict to the rollback commit pushed:
#     flightdeck with a warm cache (decide on the head, find the last
#     verified deploy, restore its overlay exactly, hold and quarantine,
#     render check, push), and the script with a full and a --depth 2 clone;
#   - in a simulated cluster behind a fake Argo CD with auto-sync, the time
#     from the verdict to Synced and Healthy for both, in wall time and in
#     cluster time (sync, rollout and a 10s stability window).
#
# Environment: RUNS (timed rollbacks per method, default 10),
# FLIGHTDECK_BENCH_CACHE (where generated repositories are kept between
# runs; default ~/.cache/flightdeck-bench, shared with bench/gitops.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-10}
CACHE=${FLIGHTDECK_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flightdeck-bench}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$CACHE"

go build -o "$TMP/gen" ./bench/gitops/gen
go build -o "$TMP/rollback" ./bench/rollback

apps=1000 commits=3000
pristine=$CACHE/repo-$apps-$commits.git
if [ ! -d "$pristine" ]; then
	echo "generating the repository ($apps apps x 3 envs, $commits commits) ..." >&2
	"$TMP/gen" -apps "$apps" -commits "$commits" -out "$pristine.tmp" >/dev/null
	mv "$pristine.tmp" "$pristine"
fi
cp -a "$pristine" "$TMP/repo.git"
echo "measuring ..." >&2
res=$("$TMP/rollback" -url "file://$TMP/repo.git" -apps "$apps" -n "$RUNS")
kv() { echo "$res" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

echo
echo "rollback on $apps apps x 3 envs, $commits commits, file:// remote, median of $RUNS (load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a))"
printf '%-46s %12s %18s %16s\n' "" "commit ms" "healthy wall ms" "healthy cluster s"
printf '%-46s %12s %18s %16s\n' "flightdeck (warm cache)" "$(kv fd_commit_ms)" "$(kv fd_healthy_wall_ms)" "$(kv fd_healthy_cluster_s)"
printf '%-46s %12s %18s %16s\n' "script: git clone + git revert + git push" "$(kv script_ms)" "$(kv script_healthy_wall_ms)" "$(kv script_healthy_cluster_s)"
printf '%-46s %12s %18s %16s\n' "script with git clone --depth 2" "$(kv script_shallow_ms)" "" ""
echo "flightdeck commit: min $(kv fd_commit_min_ms) ms, max $(kv fd_commit_max_ms) ms, CPU $(kv fd_commit_cpu_ms) ms per rollback (git subprocesses included); a plain image bump on the same Repo: $(kv fd_deploy_ms) ms"
echo "speedup over the script $(awk -v a="$(kv script_ms)" -v b="$(kv fd_commit_ms)" 'BEGIN{printf "%.1fx", a/b}') (shallow $(awk -v a="$(kv script_shallow_ms)" -v b="$(kv fd_commit_ms)" 'BEGIN{printf "%.1fx", a/b}'))"
echo "flightdeck's commit restores the last verified deploy's overlay and holds the environment; the script only reverts the bad commit"
echo "healthy = from the verdict to Argo CD Synced and Healthy at the new commit, sync 2s, pods ready after 5s, stable for 10s (cluster time on a fake clock)"
