# bench/lib.sh — what the GitOps benchmarks share: the kustomize CLI and the
# generated repositories (kept in $CACHE), the bump tool, timing helpers and
# the script teams write today. Source it from the repository root.
CACHE=${FLIGHTDECK_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flightdeck-bench}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$CACHE/bin"

KUSTOMIZE=$CACHE/bin/kustomize
if [ ! -x "$KUSTOMIZE" ]; then
	echo "building the kustomize CLI v5.7.1 (once) ..." >&2
	GOBIN=$CACHE/bin go install sigs.k8s.io/kustomize/kustomize/v5@v5.7.1
fi
go build -o "$TMP/gen" ./bench/gitops/gen
go build -o "$TMP/bump" ./bench/gitops/bump

now_ms() { echo $(($(date +%s%N) / 1000000)); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
kv() { tr ' ' '\n' | sed -n "s/^$1=//p"; }

# The script teams write today, run against a file:// remote.
script_bump() { # url app digest
	local w
	w=$(mktemp -d -p "$TMP")
	git clone -q --depth 1 --branch main "$1" "$w/r"
	(cd "$w/r/apps/$2/overlays/prod" && "$KUSTOMIZE" edit set image "registry.example.com/team/$2@$3")
	git -C "$w/r" -c user.name=ci -c user.email=ci@example.com commit -q -a -m "deploy $2 to prod"
	git -C "$w/r" push -q origin main
	rm -rf "$w"
}


# generated_repo apps commits: prints the path of the pristine generated
# repository, generating it once.
generated_repo() {
	local pristine=$CACHE/repo-$1-$2.git
	if [ ! -d "$pristine" ]; then
		echo "generating repository ($1 apps x 3 envs, $2 commits) ..." >&2
		"$TMP/gen" -apps "$1" -commits "$2" -out "$pristine.tmp" >/dev/null
		mv "$pristine.tmp" "$pristine"
	fi
	echo "$pristine"
}
