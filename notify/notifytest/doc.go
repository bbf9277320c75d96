// Package notifytest has fakes for testing code that sends notifications:
// [Recorder], a notify.Notifier that records events and can fail or block
// on demand, and [Receiver], an HTTP server that takes webhook and Slack
// deliveries, verifies their signatures, records them and spots replays.
// Both are safe for concurrent use and let a test wait on conditions
// instead of sleeping.
package notifytest
