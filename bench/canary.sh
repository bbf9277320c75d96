#!/usr/bin/env bash
# bench/canary.sh — flightdeck's sequential error judge against a Flagger-style
# threshold check (analysis interval 1m, threshold 1, request success rate at
# least 98%: an error-rate limit of twice the stable 1%), on the same simulated
# canaries (package sim: an HTTPRoute giving the canary 10% of a steady load),
# both run as health analyses on the fake clock with seeded traffic, so the
# figures are the same on every run. Prints, side by side: the failed user
# requests a canary failing 5x the stable error rate serves before it is
# aborted, and the false-abort rate over A/A canaries (canary as good as
# stable). Target: the sequential judge at most half the failed requests of
# the Flagger-style check, at a false-abort rate of 1% or less.
#
# Environment: CANARIES (canaries of each kind, default 200; more gives a
# finer false-abort rate, at about 10 ms per canary and judge).
set -euo pipefail
cd "$(dirname "$0")/.."

out=$(FLIGHTDECK_CANARIES=${CANARIES:-200} go test -run '^$' -bench '^BenchmarkCanaryJudges$' -benchtime 1x ./health/)
line=$(printf '%s\n' "$out" | grep '^BenchmarkCanaryJudges') || { printf '%s\n' "$out"; exit 1; }
scenario=$(printf '%s\n' "$out" | sed -n 's/.*scenario: //p' | head -1)

printf '%s\n' "$line" | awk -v scenario="$scenario" '
{
	for (i = 3; i < NF; i += 2) v[$(i + 1)] = $i
	n = split("sequential sequential-alpha-0.01 flagger", j, " ")
	printf "\ncanary judges on simulated traffic: %s\n\n", scenario
	printf "%-44s %16s %16s %22s\n", "", "sequential", "sequential", "Flagger-style"
	printf "%-44s %16s %16s %22s\n", "", "alpha 0.005, 10s", "alpha 0.01, 10s", "1m, threshold 1, 98%"
	row("bad canary (5%): failed requests/abort, mean", "failed-requests/abort", "%.1f")
	row("                 failed requests/abort, p95", "p95-failed-requests/abort", "%.0f")
	row("                 seconds to abort, mean", "s-to-abort", "%.1f")
	row("                 not aborted (%)", "missed-%", "%.1f")
	row("A/A canary (1%): false aborts (%)", "false-abort-%", "%.2f")
	ratio = v["sequential-failed-requests/abort"] / v["flagger-failed-requests/abort"]
	fa = v["sequential-false-abort-%"]
	printf "\ntarget: sequential/Flagger-style failed requests %.2f (<= 0.50: %s), sequential false aborts %.2f%% (<= 1%%: %s)\n",
		ratio, (ratio <= 0.5 ? "met" : "NOT met"), fa, (fa <= 1 ? "met" : "NOT met")
	print "sequential = health.ErrorSplit over the canary and stable failed-request counters, feeding"
	print "  health.SequentialTest (CanaryShare 0.1), read every 10s by health.Runner"
	print "Flagger-style = canary success rate over the last minute, checked every minute from one minute"
	print "  in, aborted at the first check below 98% (Flagger itself rolls back one interval later)"
}
function row(label, unit, f,   k, s) {
	printf "%-44s", label
	for (k = 1; k <= n; k++) {
		s = sprintf(f, v[j[k] "-" unit])
		printf " %" (k == n ? 22 : 16) "s", s
	}
	printf "\n"
}'
