package argocdv2_test

import (
	"context"
	"testing"
	"time"

	"github.com/argoproj/argo-cd/v2/pkg/apiclient"
	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flightdeck-dev/flightdeck/contrib/argocdv2"
	"github.com/flightdeck-dev/flightdeck/contrib/argocdv2/argocdv2test"
)

const (
	token   = "admin-token-0123456789"
	roToken = "viewer-token-0123456789"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func shop() *v1alpha1.Application {
	src := v1alpha1.ApplicationSource{RepoURL: "https://git.example.com/deploy.git", Path: "shop/overlays/dev", TargetRevision: "main"}
	return &v1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: "shop"},
		Spec: v1alpha1.ApplicationSpec{
			Source:      &src,
			Destination: v1alpha1.ApplicationDestination{Server: "https://kubernetes.default.svc", Namespace: "shop"},
		},
		Status: v1alpha1.ApplicationStatus{
			Sync:    v1alpha1.SyncStatus{Status: v1alpha1.SyncStatusCodeOutOfSync, Revision: "1111111"},
			Health:  v1alpha1.HealthStatus{Status: "Healthy"},
			History: v1alpha1.RevisionHistories{{ID: 0, Revision: "1111111", DeployedAt: metav1.NewTime(t0), Source: src}},
			Resources: []v1alpha1.ResourceStatus{{
				Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "shop", Name: "shop",
				Status: v1alpha1.SyncStatusCodeOutOfSync, Health: &v1alpha1.HealthStatus{Status: "Progressing", Message: "rollout"},
			}},
		},
	}
}

func put(s *argocdv2test.Server, name string, fn func(*v1alpha1.Application)) {
	a := shop()
	a.Name = name
	if fn != nil {
		fn(a)
	}
	s.Put(a)
}

// start serves a fresh server holding app "shop" on a loopback port.
func start(t *testing.T, opts ...argocdv2test.Option) (*argocdv2test.Server, *argocdv2test.Endpoint) {
	t.Helper()
	s := argocdv2test.New(append([]argocdv2test.Option{
		argocdv2test.WithToken(token), argocdv2test.WithReadOnlyToken(roToken),
		argocdv2test.WithClock(func() time.Time { return t0 }),
	}, opts...)...)
	s.Put(shop())
	e, err := argocdv2test.Serve(s)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, e.Close()) })
	return s, e
}

// dial connects the official client to e over gRPC or gRPC-web.
func dial(t *testing.T, e *argocdv2test.Endpoint, tok string, grpcWeb bool, opts ...argocdv2.Option) *argocdv2.Syncer {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s, err := argocdv2.New(ctx, apiclient.ClientOptions{ServerAddr: e.Addr, AuthToken: tok, PlainText: true, GRPCWeb: grpcWeb}, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s
}
