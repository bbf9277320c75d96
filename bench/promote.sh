#!/usr/bin/env bash
# bench/promote.sh — promoting 1000 apps from staging to prod with
# promote.Promoter (one push) against the script teams write today, run once
# per app (shallow `git clone`, `kustomize edit set image`, `git commit`,
# `git push`), on the generated 1000-app repository (1000 apps x 3 envs,
# 3000 commits), side by side from one run. The script is timed on a sample
# of SAMPLE apps and extrapolated to 1000.
#
# Environment: SAMPLE (script runs, default 20), ROUNDS (promotion rounds,
# default 3; the first is the first promotion through a fresh cache, the
# others warm), FLIGHTDECK_BENCH_CACHE (see bench/lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

SAMPLE=${SAMPLE:-20}
ROUNDS=${ROUNDS:-3}
. bench/lib.sh
go build -o "$TMP/promote" ./bench/promote

apps=1000
pristine=$(generated_repo "$apps" 3000)
repo=$TMP/promote.git
cp -a "$pristine" "$repo"
# Reflogs record each update of the branch, so that the pushes of a
# promotion can be counted.
git -C "$repo" config core.logAllRefUpdates always
url=file://$repo

echo "measuring the script on $SAMPLE apps ..." >&2
t=()
for i in $(seq 1 "$SAMPLE"); do
	app=$(printf 'app%04d' $(((i * 37) % apps)))
	s=$(now_ms)
	script_bump "$url" "$app" "sha256:$(printf '%064x' "$i")"
	t+=($(($(now_ms) - s)))
done
script_ms=$(printf '%s\n' "${t[@]}" | median)
script_total_s=$(awk -v m="$script_ms" -v n="$apps" 'BEGIN{printf "%.0f", m*n/1000}')

echo "measuring promote.Promoter ($ROUNDS rounds of $apps apps) ..." >&2
out=$("$TMP/promote" -url "$url" -apps "$apps" -rounds "$ROUNDS")
promote_ms=$(echo "$out" | kv promote_warm_ms)
promote_first_ms=$(echo "$out" | kv promote_first_ms)
plan_ms=$(echo "$out" | kv plan_warm_ms)
pushes=$(echo "$out" | kv promote_pushes)

echo
echo "promote $apps apps staging -> prod, file:// remote, 1000-app repository (3000 commits)"
printf '%-58s %12s\n' "" "wall time"
printf '%-58s %10s s\n' "script x $apps (median of $SAMPLE runs x $apps)" "$script_total_s"
printf '%-58s %10s ms\n' "promote.Promoter.Promote, one push, warm (median)" "$promote_ms"
printf '%-58s %10s ms\n' "promote.Promoter.Promote, first round" "$promote_first_ms"
printf '%-58s %10s ms\n' "promote.Promoter.PlanAll (plans + hashes, not in Promote)" "$plan_ms"
awk -v a="$script_total_s" -v b="$promote_ms" 'BEGIN{printf "speedup of Promote over the script: %.0fx\n", a*1000/b}'
echo "script = git clone --depth 1 + kustomize edit set image + git commit + git push (kustomize v5.7.1), one app per run"
echo "Promote = re-check of source, policies and plan hash (a render, from the cache PlanAll filled) for each app inside the push;"
echo "  one commit per app; the last round's $apps commits went in $pushes push(es) (counted from the remote's reflog)"
