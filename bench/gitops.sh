#!/usr/bin/env bash
# bench/gitops.sh — flightdeck's image bump against the script teams write
# today (shallow `git clone`, `kustomize edit set image`, `git commit`,
# `git push`), on two generated GitOps repositories:
#   small: 50 apps x 3 envs, 300 commits;  large: 1000 apps x 3 envs, 3000 commits.
# Prints, side by side and from one run: the script's bump, flightdeck's bump
# with a warm cache, the cold first clone against `git clone`, and the
# throughput of 16 concurrent flightdeck writers (separate caches).
#
# Environment: RUNS (timed repetitions, default 5), FLIGHTDECK_BENCH_CACHE
# (where the kustomize CLI and the generated repositories are kept between
# runs; default ~/.cache/flightdeck-bench).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-5}
. bench/lib.sh

results=()
for spec in "small 50 300" "large 1000 3000"; do
	set -- $spec
	name=$1 apps=$2 commits=$3
	pristine=$CACHE/repo-$apps-$commits.git
	if [ ! -d "$pristine" ]; then
		echo "generating $name repository ($apps apps x 3 envs, $commits commits) ..." >&2
		"$TMP/gen" -apps "$apps" -commits "$commits" -out "$pristine.tmp" >/dev/null
		mv "$pristine.tmp" "$pristine"
	fi
	repo=$TMP/$name.git
	cp -a "$pristine" "$repo"
	url=file://$repo
	echo "measuring $name ..." >&2

	# Script bump, RUNS times, different apps.
	t=()
	for i in $(seq 1 "$RUNS"); do
		app=$(printf 'app%04d' $(((i * 7 + 1) % apps)))
		digest=sha256:$(printf '%064x' "$((RANDOM * 100000 + i))")
		s=$(now_ms)
		script_bump "$url" "$app" "$digest"
		t+=($(($(now_ms) - s)))
	done
	script_ms=$(printf '%s\n' "${t[@]}" | median)

	warm=$("$TMP/bump" -mode warm -url "$url" -apps "$apps" -n $((RUNS * 4)))
	warm_ms=$(echo "$warm" | kv warm_median_ms)

	t=()
	tb=()
	c=()
	for i in $(seq 1 "$RUNS"); do
		s=$(now_ms)
		git clone -q "$url" "$TMP/clone$i"
		t+=($(($(now_ms) - s)))
		rm -rf "$TMP/clone$i"
		s=$(now_ms)
		git clone -q --bare "$url" "$TMP/clone$i"
		tb+=($(($(now_ms) - s)))
		rm -rf "$TMP/clone$i"
		c+=($("$TMP/bump" -mode cold -url "$url" | kv cold_ms))
	done
	clone_ms=$(printf '%s\n' "${t[@]}" | median)
	bare_ms=$(printf '%s\n' "${tb[@]}" | median)
	cold_ms=$(printf '%s\n' "${c[@]}" | median)

	conc=$("$TMP/bump" -mode concurrent -url "$url" -apps "$apps" -writers 16 -n 4)
	cps=$(echo "$conc" | kv commits_per_s)
	attempts=$(echo "$conc" | kv attempts)

	results+=("$(printf '%-32s %9s %10s %8s %9s %9s %10s %8s %12s %8s' \
		"$name ($apps apps, $commits commits)" "$script_ms" "$warm_ms" \
		"$(awk -v a="$script_ms" -v b="$warm_ms" 'BEGIN{printf "%.1fx", a/b}')" \
		"$clone_ms" "$bare_ms" "$cold_ms" \
		"$(awk -v a="$cold_ms" -v b="$clone_ms" 'BEGIN{printf "%.2fx", a/b}')" \
		"$cps" "$attempts")")
done

echo
echo "gitops image bump, file:// remote, median of $RUNS runs (warm bump: median of $((RUNS * 4)))"
printf '%-32s %9s %10s %8s %9s %9s %10s %8s %12s %8s\n' repository "script ms" "fd warm ms" speedup "clone ms" "bare ms" "fd cold ms" "vs clone" "16w commit/s" attempts
printf '%s\n' "${results[@]}"
echo "script = git clone --depth 1 + kustomize edit set image + git commit + git push (kustomize v5.7.1)"
echo "fd warm = gitops.Repo.Apply with a warm cache: fetch, SetImage, render before/after, commit, push"
echo "clone/bare = git clone (with checkout) / git clone --bare; fd cold = first gitops.Repo.Fetch into an empty cache (a bare clone)"
echo "16w = 16 concurrent writers, separate caches, 4 bumps each on their own app; attempts includes replays"
