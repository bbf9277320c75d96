package argocdv2_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/argoproj/argo-cd/v2/pkg/apiclient"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/contrib/argocdv2"
	"github.com/flightdeck-dev/flightdeck/contrib/argocdv2/argocdv2test"
	"github.com/flightdeck-dev/flightdeck/contrib/argocdv2/internal/fixture"
	"github.com/flightdeck-dev/flightdeck/gitops/argocd"
)

func startTLS(t *testing.T) (*argocdv2test.Endpoint, []byte, string) {
	t.Helper()
	cert, caPEM, err := argocdv2test.SelfSignedCert()
	require.NoError(t, err)
	s := argocdv2test.New(argocdv2test.WithToken(fixture.Token))
	s.Put(fixture.Shop())
	e, err := argocdv2test.Serve(s, argocdv2test.WithTLS(cert))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, e.Close()) })
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, caPEM, 0o600))
	return e, caPEM, caFile
}

func TestTLSOfficialClient(t *testing.T) {
	e, _, caFile := startTLS(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	_, err := argocdv2.New(ctx, apiclient.ClientOptions{ServerAddr: e.Addr, AuthToken: fixture.Token})
	require.Error(t, err, "a certificate the client does not trust")
	assert.Contains(t, err.Error(), "certificate signed by unknown authority")
	assert.NotContains(t, err.Error(), fixture.Token)

	for _, tr := range transports {
		t.Run(tr.name+" trusting the CA", func(t *testing.T) {
			c, err := argocdv2.New(ctx, apiclient.ClientOptions{ServerAddr: e.Addr, AuthToken: fixture.Token, CertFile: caFile, GRPCWeb: tr.grpcWeb})
			require.NoError(t, err)
			defer c.Close()
			st, err := c.AppStatus(ctx, "shop")
			require.NoError(t, err)
			assert.Equal(t, "shop", st.App)
		})
		t.Run(tr.name+" skipping verification when asked", func(t *testing.T) {
			c, err := argocdv2.New(ctx, apiclient.ClientOptions{ServerAddr: e.Addr, AuthToken: fixture.Token, Insecure: true, GRPCWeb: tr.grpcWeb})
			require.NoError(t, err)
			defer c.Close()
			_, err = c.AppStatus(ctx, "shop")
			require.NoError(t, err)
		})
	}
}

func TestTLSConformanceRESTClient(t *testing.T) {
	e, caPEM, _ := startTLS(t)
	_, err := restClient(t, e, fixture.Token).AppStatus(t.Context(), "shop")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "certificate signed by unknown authority")

	st, err := restClient(t, e, fixture.Token, argocd.WithCACert(caPEM)).AppStatus(t.Context(), "shop")
	require.NoError(t, err)
	assert.Equal(t, "shop", st.App)

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	err = restClient(t, e, fixture.Token, argocd.WithCACert(caPEM)).Watch(ctx, "shop", func(ev argocd.WatchEvent) error {
		assert.Equal(t, "ADDED", ev.Type)
		return argocd.ErrStopWatch
	})
	require.NoError(t, err, "the stream works over HTTPS too")
}
