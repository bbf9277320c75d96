// Package strategytest helps test code built on package strategy: a
// recording, fault-injecting [Target] that wraps a real one, a
// conformance suite for strategy.Target implementations in the style of
// testing/slogtest ([TestTarget]), and the repository [Layout] the suite
// uses, ready for tests of their own.
//
// Everything here works on real Git repositories with real kustomize
// renders; nothing is mocked.
package strategytest
