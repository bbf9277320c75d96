package argocdv2_test

import (
	"context"
	"testing"
	"time"

	"github.com/argoproj/argo-cd/v2/pkg/apiclient"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/contrib/argocdv2"
	"github.com/flightdeck-dev/flightdeck/contrib/argocdv2/argocdv2test"
)

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
