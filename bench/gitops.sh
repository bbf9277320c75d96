#!/usr/bin/env bash
# bench/gitops.sh — flightdeck's GitOps writer against the tools teams use today, on two
# generated GitOps repositories:
#   small: 50 apps x 3 envs, 300 commits;  large: 1000 apps x 3 envs, 3000 commits.
# Prints, from one run, every figure beside its baseline measured in the same run, the
# figure of the code this work started from ("landed", constants), and the target:
#   - an image bump with a warm cache, against the script teams write today (shallow
#     `git clone`, `kustomize edit set image`, `git commit`, `git push`);
#   - the cold first fetch into an empty cache, against `git clone --bare`;
#   - 16 concurrent writers with separate caches (commits/s);
#   - one Repo shared by 64 goroutines, a bot serving many apps (changes/s, each its own
#     commit), against one writer applying the same changes one after the other.
#
# Environment: RUNS (timed repetitions, default 5), FLIGHTDECK_BENCH_CACHE
# (where the kustomize CLI and the generated repositories are kept between
# runs; default ~/.cache/flightdeck-bench).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-5}
. bench/lib.sh
ratio() { awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN{printf f, a/b}'; }

# fresh copies the pristine repository of a spec, so that every figure starts
# from the same history.
fresh() { # name pristine
	rm -rf "$TMP/$1.git"
	cp -a "$2" "$TMP/$1.git"
	echo "file://$TMP/$1.git"
}

rows=()
row() { rows+=("$(printf '%-44s %-9s %10s   %-28s %8s   %-9s %s' "$@")"); }

for spec in "small 50 300 5.2x" "large 1000 3000 64x"; do
	set -- $spec
	name=$1 apps=$2 commits=$3 landed_speedup=$4
	pristine=$(generated_repo "$apps" "$commits")
	echo "measuring $name ..." >&2
	target_speedup=20x
	[ "$name" = large ] && target_speedup=100x

	# Warm bump: the script RUNS times (different apps), flightdeck RUNS*4 times.
	url=$(fresh "$name" "$pristine")
	t=()
	for i in $(seq 1 "$RUNS"); do
		app=$(printf 'app%04d' $(((i * 7 + 1) % apps)))
		digest=sha256:$(printf '%064x' "$((RANDOM * 100000 + i))")
		s=$(now_ms)
		script_bump "$url" "$app" "$digest"
		t+=($(($(now_ms) - s)))
	done
	script_ms=$(printf '%s\n' "${t[@]}" | median)
	warm_ms=$("$TMP/bump" -mode warm -url "$url" -apps "$apps" -n $((RUNS * 4)) | kv warm_median_ms)
	row "warm bump, $name: ms (speed-up)" "$name" "$warm_ms" "script $script_ms ms" \
		"$(ratio "$script_ms" "$warm_ms" '%.1fx')" "$landed_speedup" "≥$target_speedup"

	# Cold first fetch against git clone --bare, alternating.
	tb=()
	c=()
	for i in $(seq 1 "$RUNS"); do
		s=$(now_ms)
		git clone -q --bare "$url" "$TMP/clone$i"
		tb+=($(($(now_ms) - s)))
		rm -rf "$TMP/clone$i"
		c+=($("$TMP/bump" -mode cold -url "$url" | kv cold_ms))
	done
	bare_ms=$(printf '%s\n' "${tb[@]}" | median)
	cold_ms=$(printf '%s\n' "${c[@]}" | median)
	row "cold first fetch, $name: ms (x clone)" "$name" "$cold_ms" "git clone --bare $bare_ms ms" \
		"$(ratio "$cold_ms" "$bare_ms" '%.2fx')" "2.4x" "≤1.0x"

	# 16 writers, separate caches, 4 bumps each on their own app.
	url=$(fresh "$name" "$pristine")
	conc=$("$TMP/bump" -mode concurrent -url "$url" -apps "$apps" -writers 16 -n 4)
	cps=$(echo "$conc" | kv commits_per_s)
	attempts=$(echo "$conc" | kv attempts)
	landed=-
	target=-
	[ "$name" = large ] && landed=5.3 && target=≥20
	row "16 writers, $name: commits/s" "$name" "$cps" "($attempts attempts for 64)" "" "$landed" "$target"

	# One Repo, 64 goroutines, 4 bumps each on their own app; the baseline is
	# one writer applying 64 bumps one after the other.
	url=$(fresh "$name" "$pristine")
	shared=$("$TMP/bump" -mode shared -url "$url" -apps "$apps" -writers 64 -n 4 | kv changes_per_s)
	url=$(fresh "$name" "$pristine")
	serial=$("$TMP/bump" -mode shared -url "$url" -apps "$apps" -writers 1 -n 64 | kv changes_per_s)
	target=-
	[ "$name" = large ] && target=≥100
	row "64 goroutines, one Repo, $name: changes/s" "$name" "$shared" "1 writer $serial/s" \
		"$(ratio "$shared" "$serial" '%.1fx')" "-" "$target"
done

echo
echo "gitops writer, file:// remote, one run (medians of $RUNS runs; warm bump: median of $((RUNS * 4)))"
printf '%-44s %-9s %10s   %-28s %8s   %-9s %s\n' figure repo flightdeck "baseline (same run)" ratio landed target
printf '%s\n' "${rows[@]}"
echo "script = git clone --depth 1 + kustomize edit set image + git commit + git push (kustomize v5.7.1)"
echo "warm bump = gitops.Repo.Apply with a warm cache (render check, commit, push; a fetch only if the remote moved)"
echo "cold first fetch = first gitops.Repo.Fetch into an empty cache (a bare clone of the branch)"
echo "16 writers = 16 Repos with separate caches, warmed by one bump each, 4 bumps each on their own app; attempts include replays"
echo "64 goroutines = one Repo, 4 bumps each on their own app, every change its own commit (pushed in chains)"
echo "landed = the figure of the code before this work (RUNS=3, same machine); target = what issue 8 asks"
