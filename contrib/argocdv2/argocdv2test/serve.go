package argocdv2test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/argoproj/argo-cd/v2/pkg/apiclient"
	"github.com/argoproj/argo-cd/v2/pkg/apiclient/application"
	"github.com/argoproj/argo-cd/v2/pkg/apiclient/version"
	grpcutil "github.com/argoproj/argo-cd/v2/util/grpc"
	"github.com/argoproj/gitops-engine/pkg/health"
	"github.com/grpc-ecosystem/grpc-gateway/runtime"
	"github.com/improbable-eng/grpc-web/go/grpcweb"
	"github.com/soheilhy/cmux"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Version is what the server's VersionService reports.
const Version = "v2.14.21+argocdv2test"

// viaKey is the metadata key the HTTP front door sets so that [Call.Via]
// can tell the three transports apart.
const viaKey = "flightdeck-via"

func healthCode(s string) health.HealthStatusCode { return health.HealthStatusCode(s) }

type accessKey struct{}

func via(ctx context.Context) string {
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get(viaKey); len(v) > 0 {
			return v[0]
		}
	}
	return "grpc"
}

func mayWrite(ctx context.Context) bool {
	w, ok := ctx.Value(accessKey{}).(bool)
	return !ok || w
}

// token finds the caller's token as Argo CD's server does: the "token"
// metadata the official client sends, else "authorization: Bearer ...",
// which the REST gateway forwards from the HTTP header.
func token(md metadata.MD) string {
	if t := md.Get(apiclient.MetaDataTokenKey); len(t) > 0 {
		return t[0]
	}
	for _, t := range md.Get("authorization") {
		if v, ok := strings.CutPrefix(t, "Bearer "); ok {
			return v
		}
	}
	return ""
}

// authenticate checks the token; like Argo CD, VersionService answers
// without one.
func (s *Server) authenticate(ctx context.Context, method string) (context.Context, error) {
	if len(s.tokens) == 0 || method == "/version.VersionService/Version" {
		return ctx, nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	t := token(md)
	if t == "" {
		return nil, status.Error(codes.Unauthenticated, msgNoSession)
	}
	w, ok := s.tokens[t]
	if !ok {
		// The token is deliberately not part of the message.
		return nil, status.Error(codes.Unauthenticated, "invalid session: token signature is invalid")
	}
	return context.WithValue(ctx, accessKey{}, w), nil
}

func (s *Server) unaryAuth(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	ctx, err := s.authenticate(ctx, info.FullMethod)
	if err != nil {
		return nil, err
	}
	return h(ctx, req)
}

type authedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (a authedStream) Context() context.Context { return a.ctx }

func (s *Server) streamAuth(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	ctx, err := s.authenticate(ss.Context(), info.FullMethod)
	if err != nil {
		return err
	}
	return h(srv, authedStream{ss, ctx})
}

type versionServer struct{}

func (versionServer) Version(context.Context, *emptypb.Empty) (*version.VersionMessage, error) {
	return &version.VersionMessage{Version: Version}, nil
}

// Endpoint is a [Server] listening on a loopback port. One listener
// serves, as Argo CD's API server does: native gRPC (HTTP/2 with
// content-type application/grpc, told apart by cmux), gRPC-web
// (application/grpc-web+proto over HTTP/1.1) and the generated REST
// gateway under /api/, which reaches the gRPC server over a loopback
// connection so that streams such as /api/v1/stream/applications work.
type Endpoint struct {
	// Addr is "127.0.0.1:port", the form apiclient.ClientOptions.ServerAddr
	// takes (with PlainText unless served [WithTLS]).
	Addr string
	// URL is "http://127.0.0.1:port" ("https://" [WithTLS]), the base URL
	// of the REST API.
	URL string

	ln     net.Listener
	grpcS  *grpc.Server
	httpS  *http.Server
	conn   *grpc.ClientConn
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// ServeOption configures [Serve].
type ServeOption func(*serveOptions)

type serveOptions struct {
	cert *tls.Certificate
}

// WithTLS serves TLS with cert on the one port, offering ALPN http/1.1
// before h2 as Argo CD does, so HTTPS clients speak HTTP/1.1 and gRPC
// clients h2. The default is plain text.
func WithTLS(cert tls.Certificate) ServeOption {
	return func(o *serveOptions) { o.cert = &cert }
}

// Serve starts s on a free loopback port. Call [Endpoint.Close] to stop
// it.
func Serve(s *Server, opts ...ServeOption) (*Endpoint, error) {
	var o serveOptions
	for _, opt := range opts {
		opt(&o)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("argocdv2test: listen: %w", err)
	}
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	e := &Endpoint{Addr: addr, URL: "http://" + addr, ln: ln, cancel: cancel}
	// The gateway dials the gRPC server on the same port; like Argo CD it
	// skips verification of its own certificate on that loopback hop.
	selfCreds := insecure.NewCredentials()
	if o.cert != nil {
		ln = tls.NewListener(ln, &tls.Config{
			Certificates: []tls.Certificate{*o.cert},
			NextProtos:   []string{"http/1.1", "h2"},
			MinVersion:   tls.VersionTLS12,
		})
		e.URL = "https://" + addr
		selfCreds = credentials.NewTLS(&tls.Config{InsecureSkipVerify: true}) //nolint:gosec // loopback to itself
	}

	e.grpcS = grpc.NewServer(grpc.ChainUnaryInterceptor(s.unaryAuth), grpc.ChainStreamInterceptor(s.streamAuth))
	application.RegisterApplicationServiceServer(e.grpcS, s)
	version.RegisterVersionServiceServer(e.grpcS, versionServer{})

	// The gateway is set up as Argo CD's server sets it up: encoding/json
	// through util/grpc.JSONMarshaler, the forwarders overridden in
	// pkg/apiclient/application (stream de-duplication, SSE), and the
	// client-side handlers over a connection to itself.
	e.conn, err = grpc.NewClient(addr, grpc.WithTransportCredentials(selfCreds))
	if err != nil {
		cancel()
		closeQuietly(ln)
		return nil, fmt.Errorf("argocdv2test: gateway connection: %w", err)
	}
	gw := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, new(grpcutil.JSONMarshaler)),
		runtime.WithMetadata(func(context.Context, *http.Request) metadata.MD { return metadata.Pairs(viaKey, "rest") }),
	)
	if err := application.RegisterApplicationServiceHandler(ctx, gw, e.conn); err != nil {
		cancel()
		closeQuietly(e.conn)
		closeQuietly(ln)
		return nil, fmt.Errorf("argocdv2test: register gateway: %w", err)
	}
	if err := version.RegisterVersionServiceHandler(ctx, gw, e.conn); err != nil {
		cancel()
		closeQuietly(e.conn)
		closeQuietly(ln)
		return nil, fmt.Errorf("argocdv2test: register gateway: %w", err)
	}
	web := grpcweb.WrapServer(e.grpcS)
	mux := http.NewServeMux()
	mux.Handle("/api/", gw)
	e.httpS = &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if web.IsGrpcWebRequest(r) {
				r.Header.Set(viaKey, "grpc-web")
				web.ServeHTTP(w, r)
				return
			}
			mux.ServeHTTP(w, r)
		}),
	}

	m := cmux.New(ln)
	httpL := m.Match(cmux.HTTP1Fast("PATCH"))
	grpcL := m.MatchWithWriters(cmux.HTTP2MatchHeaderFieldSendSettings("content-type", "application/grpc"))
	e.wg.Add(3)
	go func() { defer e.wg.Done(); _ = e.grpcS.Serve(grpcL) }()
	go func() { defer e.wg.Done(); _ = e.httpS.Serve(httpL) }()
	go func() { defer e.wg.Done(); _ = m.Serve() }()
	return e, nil
}

// Close stops serving: open streams end, and connections are closed. It is
// safe to call more than once.
func (e *Endpoint) Close() error {
	var err error
	e.once.Do(func() {
		e.cancel()
		closeQuietly(e.conn)
		e.grpcS.Stop()
		for _, cerr := range []error{e.httpS.Close(), e.ln.Close()} {
			// cmux's listeners share the one socket: whichever closes
			// second finds it closed.
			if cerr != nil && !errors.Is(cerr, net.ErrClosed) {
				err = errors.Join(err, cerr)
			}
		}
		e.wg.Wait()
	})
	return err
}
