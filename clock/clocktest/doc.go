// Package clocktest provides [Clock], a fake [clock.Clock] that a test
// drives: time moves only when the test moves it ([Clock.Advance],
// [Clock.AdvanceToNext], [Clock.Accelerate]) or, in auto mode
// ([NewAuto]), each timer fires at once and moves the clock to its
// deadline, so a run with minute-long intervals ends instantly and
// deterministically. [Drive] runs code on a manual clock to its end,
// moving the clock each time the code waits on it.
//
// Pass the same Clock to the sim cluster, the fake Argo CD server, an
// analysis runner and gitops.WaitFor, and the whole test moves on one
// timeline.
package clocktest
