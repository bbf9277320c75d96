// Package strategytest helps test code built on package strategy: a
// recording, fault-injecting [Target] that wraps a real one, a
// conformance suite for strategy.Target implementations in the style of
// testing/slogtest ([TestTarget]), the repository [Layout] the suite
// uses, and an [Environment]: everything a rollout needs in one process
// (a bare repository, the fake Argo CD rendering it into a simulated
// cluster, the cluster's metrics over HTTP, one clock), with templates
// for the sequential error judge ([Environment.ErrorJudge]) and a
// latency check ([Environment.LatencyCheck]) on the simulated traffic.
//
// Everything here works on real Git repositories with real kustomize
// renders; nothing is mocked.
package strategytest
