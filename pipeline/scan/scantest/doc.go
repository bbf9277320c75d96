// Package scantest provides a fake scan.Scanner for tests of code that
// runs scanners or applies scan policies.
package scantest
