// Package syncertest provides a fake [gitops.Syncer] for tests of code
// that syncs applications and waits for them, such as [gitops.WaitFor].
//
// The fake completes syncs at once, or returns statuses a test scripts
// poll by poll (to replay traps such as a momentary Healthy before a
// rollout starts), records every call, and injects errors on Sync and
// AppStatus, including calls that never answer ([Syncer.Hang]) and
// applications that disappear ([Syncer.Delete]). It also implements
// [gitops.Refresher].
package syncertest
