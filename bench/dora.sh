#!/usr/bin/env bash
# bench/dora.sh — dora's DORA figures against the script teams write today
# (`git log --format` with the trailers, then awk and sort), on one generated
# GitOps repository: 1000 apps x 3 environments, 30,000 commits (deploys,
# every 41st a rollback, every 7th a verified marker), written once with
# `git fast-import` and kept between runs.
#
# Both compute, for every app and environment and for all of them, the
# deployment count and frequency and the median change lead time by the same
# rules (trusted committer only; lead time from the source commit to the
# deploy's verified marker, else its commit, for releases new to the
# environment, values <= 0 left out; median as PERCENTILE_CONT). The script
# checks that the per-target figures are identical, then prints the script's
# median time beside dora's cold read (fresh clone), restart (new process on
# the filled cache), warm read (the Reader already open: the target is at
# least 5x faster than the script) and a read after one new commit.
#
# Environment: RUNS (timed repetitions, default 5), APPS, COMMITS,
# FLIGHTDECK_BENCH_CACHE (default ~/.cache/flightdeck-bench).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-5}
APPS=${APPS:-1000}
COMMITS=${COMMITS:-30000}
CACHE=${FLIGHTDECK_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flightdeck-bench}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$CACHE"

go build -o "$TMP/dorabench" ./dora/internal/dorabench

now_ms() { echo $(($(date +%s%N) / 1000000)); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
kv() { tr ' ' '\n' | sed -n "s/^$1=//p"; }

pristine=$CACHE/dora-$APPS-$COMMITS.git
if [ ! -d "$pristine" ]; then
	echo "generating the repository ($APPS apps x 3 environments, $COMMITS commits) ..." >&2
	s=$(now_ms)
	"$TMP/dorabench" -gen -out "$pristine.tmp" -apps "$APPS" -commits "$COMMITS"
	mv "$pristine.tmp" "$pristine"
	echo "generated in $(($(now_ms) - s)) ms" >&2
fi
repo=$TMP/repo.git
cp -a "$pristine" "$repo"
until=$(($(git -C "$repo" log -1 --format=%ct main) + 1))

# The script: one git log of the trailer blocks, one awk pass over them,
# sort, one awk pass for the medians. Prints "app env deployments median" per target to $1, and
# "deployments per_day lead_median" for all targets.
script() {
	git -C "$repo" log --reverse --format='%x1e%ct %cn <%ce>%n%(trailers:only,unfold)' main |
		TZ=UTC awk -v RS='\036' -v until="$until" -v leads="$TMP/leads" -v counts="$TMP/counts" -v total="$TMP/total" '
		function epoch(s) { gsub(/[-:TZ]/, " ", s); sub(/\.[0-9]+/, "", s); return mktime(s) }
		NR == 1 { next }
		{
			nl = split($0, l, "\n"); c = l[1]; ct = substr(c, 1, index(c, " ") - 1); who = substr(c, index(c, " ") + 1)
			if (who != "flightdeck <flightdeck@localhost>" || ct + 0 >= until + 0) next
			delete tr
			for (j = 2; j <= nl; j++) { k = index(l[j], ": "); if (k) tr[substr(l[j], 1, k - 1)] = substr(l[j], k + 2) }
			if (tr["Flightdeck-Version"] != "1" || tr["Flightdeck-App"] == "" || tr["Flightdeck-Environment"] == "") next
			t = tr["Flightdeck-App"] " " tr["Flightdeck-Environment"]; a = tr["Flightdeck-Action"]; rel = t "|" tr["Flightdeck-Release"]
			if (a == "deploy" || a == "promote" || a == "rollback") {
				n++; count[t]++; if (!since || ct + 0 < since) since = ct + 0
				last[rel] = n; rev = tr["Flightdeck-Source-Revision"]; st = tr["Flightdeck-Source-Time"]
				if (a != "rollback" && rev != "" && !seen[t "|" rev]++ && st != "") { src[n] = epoch(st); cts[n] = ct + 0; tgt[n] = t }
			} else if (tr["Flightdeck-Verified"] == "verified" && (rel in last)) {
				i = last[rel]; if (!(i in good)) good[i] = ct + 0
			}
		}
		END {
			for (i in src) { e = (i in good) ? good[i] : cts[i]; lt = e - src[i]; if (lt > 0) print tgt[i], lt > leads }
			for (t in count) print t, count[t] > counts
			days = (until - since) / 86400; if (days < 1) days = 1
			printf "%d %.2f\n", n, n / days > total
		}'
	LC_ALL=C sort -k1,1 -k2,2 -k3,3n "$TMP/leads" | awk '
		function flush() { if (k) m[key] = (k % 2) ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2 }
		{ t = $1 " " $2; if (t != key) { flush(); key = t; k = 0 } v[++k] = $3 }
		END { flush(); while ((getline line < "'"$TMP/counts"'") > 0) { split(line, f, " "); t = f[1] " " f[2]; printf "%s %d %.1f\n", t, f[3], (t in m) ? m[t] : 0 } }' |
		LC_ALL=C sort > "$1"
	sort -n "$TMP/leads" -k3,3 | awk '{a[NR]=$3} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}' > "$TMP/allmedian"
}

echo "measuring the script ($RUNS runs) ..." >&2
t=()
for i in $(seq 1 "$RUNS"); do
	s=$(now_ms)
	script "$TMP/script-targets"
	t+=($(($(now_ms) - s)))
done
script_ms=$(printf '%s\n' "${t[@]}" | median)
read -r s_deploys s_perday < "$TMP/total"
s_lead=$(cat "$TMP/allmedian")

echo "measuring dora ..." >&2
out=$("$TMP/dorabench" -url "file://$repo" -until "$until" -runs $((RUNS * 4)) -targets "$TMP/dora-targets.raw")
awk '{printf "%s %s %d %.1f\n", $1, $2, $3, $4}' "$TMP/dora-targets.raw" | LC_ALL=C sort > "$TMP/dora-targets"
if ! diff -q "$TMP/script-targets" "$TMP/dora-targets" >/dev/null; then
	echo "the script and dora disagree on per-target figures:" >&2
	diff "$TMP/script-targets" "$TMP/dora-targets" | head -20 >&2
	exit 1
fi
warm_ms=$(echo "$out" | kv warm_ms)

printf '\n%s apps x 3 environments, %s commits; %s targets, figures identical per target\n' "$APPS" "$COMMITS" "$(wc -l < "$TMP/dora-targets")"
printf '%-44s %10s %12s %10s %14s\n' "" "time (ms)" "deployments" "per day" "lead median"
printf '%-44s %10s %12s %10s %14s\n' "script: git log --format + awk (median)" "$script_ms" "$s_deploys" "$s_perday" "${s_lead}s"
printf '%-44s %10s %12s %10s %14s\n' "dora warm: second read, Reader open" "$warm_ms" "$(echo "$out" | kv deployments)" "$(echo "$out" | kv per_day)" "$(echo "$out" | kv lead_median_s)s"
printf '%-44s %10s\n' "dora after one new commit" "$(echo "$out" | kv new_commit_ms)"
printf '%-44s %10s\n' "dora restart: new process, cache on disk" "$(echo "$out" | kv restart_ms)"
printf '%-44s %10s\n' "dora cold: new cache, clone + first read" "$(echo "$out" | kv cold_ms)"
printf 'warm speed-up over the script: %s (target >= 5x)\n' "$(awk -v a="$script_ms" -v b="$warm_ms" 'BEGIN{printf "%.1fx", a/b}')"
