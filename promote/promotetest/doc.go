// Package promotetest has fakes for tests of code built on package
// promote: an in-memory approval store ([Store]) that serves as the
// source of an Approvals policy, approvers' SSH keys made in process
// ([SSHKey]: allowed-signers lines and signed approvals), and a fixed
// clock ([FixedClock]).
package promotetest
