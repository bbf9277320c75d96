// Package gitopstest provides test helpers for code that uses package
// gitops: bare Git repositories built from a layout in a temporary
// directory ([NewBareRepo], [KustomizeLayout]), direct commits that play
// the part of a competing writer ([Commit]), a real smart-HTTP Git server
// (`git http-backend` under net/http/cgi) with optional basic auth and
// fault injection ([Serve]), and a recording, fault-injecting
// gitops.Writer ([Writer]).
//
// Everything here works on real repositories with real Git; nothing is
// mocked. All helpers clean up through testing.TB.Cleanup.
package gitopstest
