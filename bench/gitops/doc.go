// Package gitopsbench holds the helper programs of bench/gitops.sh, which
// compares a flightdeck image bump with the shell script teams write today
// (shallow `git clone`, `kustomize edit set image`, `git commit`,
// `git push`):
//
//   - gen writes a bare GitOps repository with N apps × 3 environments and
//     a history of C commits, through `git fast-import`;
//   - bump times flightdeck's cold clone, warm bumps and concurrent
//     writers against a repository.
package gitopsbench
