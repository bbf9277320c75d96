// Package clock defines the one notion of time every flightdeck package
// accepts: [Clock], something that tells the time and fires timers.
//
// Everything in flightdeck that waits or stamps a time — Git commits, the
// wait for an Argo CD sync, analysis runs, the simulated cluster, the fake
// Argo CD server, pipeline retries, strategy and rollback runners — takes
// a Clock through an option or a field, and a nil Clock always means the
// system clock ([System]). One fake clock from package clocktest can
// therefore drive a whole test: the sim cluster, the fake Argo CD, the
// analysis run and the wait all move together when the test moves it.
package clock
