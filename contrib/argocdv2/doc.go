// Package argocdv2 connects flightdeck to Argo CD through the official
// argo-cd v2 Go client, and holds the conformance tests of flightdeck's
// own REST client (gitops/argocd) against Argo CD's generated API.
//
// It is a separate Go module (github.com/flightdeck-dev/flightdeck/contrib/argocdv2)
// so that the core module stays free of argo-cd's dependency tree and of
// replace directives. argo-cd v2.14 calls securejoin.MkdirAll with an int
// mode, which github.com/cyphar/filepath-securejoin changed in v0.4, so a
// program that imports this module must pin securejoin in its own go.mod
// (replace directives of dependencies are ignored by Go):
//
//	replace github.com/cyphar/filepath-securejoin => github.com/cyphar/filepath-securejoin v0.3.6
//
// That line is all a build needs. Commands that load the whole module
// graph (`go list -m all`, govulncheck) also trip over the k8s.io staging
// modules k8s.io/kubernetes names at v0.0.0; this module's go.mod carries
// argo-cd's own replace block for them (k8s.io/kubelet and friends =>
// v0.31.0), which such programs can copy as well.
//
// [Syncer] implements [gitops.Syncer] and [gitops.Refresher] with
// pkg/apiclient, over plain gRPC or gRPC-web (ClientOptions.GRPCWeb), so
// [gitops.WaitFor] and everything built on the Syncer interface work with
// it, and [argocd.LogReader] ([Syncer.Logs], Argo CD's PodLogs), so
// argocd.LogSource feeds health.ErrorLogs from it as from the REST
// client. Refusals come back as the same [*argocd.APIError] and sentinels the
// REST client returns ([argocd.ErrNotFound], [argocd.ErrSyncWindow],
// [argocd.ErrOperationInProgress], ...), mapped from gRPC status codes by
// [Classify], so callers can switch clients without changing their error
// handling; NotFound, Unauthenticated and PermissionDenied match
// gitops.ErrAppNotFound and gitops.ErrAccessDenied, so gitops.WaitFor
// ends at once on them. Each call receives at most
// [WithMaxResponseBytes] (32 MiB by default, where apiclient alone allows
// 200 MiB), the token is scrubbed from whatever the server sends back,
// and retries wait on [WithClock].
//
// Choosing between the two clients: gitops/argocd needs only net/http and
// works with Argo CD v2 and v3; this package follows whatever the
// official client does (the argocd CLI's behaviour, gRPC streaming, its
// built-in retries of Unavailable) at the cost of a large dependency tree
// and the replace line above.
//
// The sibling package argocdv2test is an in-memory Argo CD API server
// made of Argo CD's own generated gRPC service, REST gateway and
// gRPC-web wrapper; the tests of this module run both clients against it.
package argocdv2
