// Package gitopstest provides test helpers for code that uses package
// gitops: bare Git repositories built from a layout in a temporary
// directory ([NewBareRepo], [KustomizeLayout]), direct commits that play
// the part of a competing writer ([Commit]), a real smart-HTTP Git server
// (`git http-backend` under net/http/cgi) with optional basic auth and
// fault injection ([Serve]), a recording, fault-injecting
// gitops.Writer over a real repository ([Writer]), and [Fake], an
// in-memory repository that answers Apply, History, ReadFile and Render
// (and so gitops.DeployRelease, gitops.CurrentRelease and
// gitops.CopyRelease) without disk or a git binary, with its commits
// stamped by a clock.Clock, every call recorded and faults injectable.
//
// Everything here works on real Git objects; nothing is mocked: the Fake
// applies the same edits to the same trees as gitops.Repo, so the same
// changes give the same tree hashes. Helpers that take a testing.TB clean
// up through its Cleanup.
package gitopstest
