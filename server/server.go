package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"
)

// Flag names bound by Options.BindFlags.
const (
	FlagMetricsBindAddress     = "metrics-bind-address"
	FlagHealthProbeBindAddress = "health-probe-bind-address"
	FlagMetricsSecure          = "metrics-secure"
	FlagMetricsCertDir         = "metrics-cert-dir"
	FlagMetricsEnableHTTP2     = "metrics-enable-http2"
	FlagMaxRequestsPerClient   = "metrics-max-requests-per-client"
)

// Defaults, documented on Options.
const (
	DefaultBindAddress       = ":8080"
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 60 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultShutdownTimeout   = 10 * time.Second
	// DefaultMaxRequestsPerClient bounds concurrent requests to the metrics
	// routes from one client address (the TCP peer: behind a sidecar or a
	// proxy all scrapers share it, so raise the bound or disable it there).
	DefaultMaxRequestsPerClient = 8
)

// ErrShutdown is returned by Start after Shutdown.
var ErrShutdown = errors.New("server is shut down")

// ErrNoAuthorizer is returned by New when SecureServing is on without a
// MetricsFilter: TLS alone would serve /metrics to anyone.
var ErrNoAuthorizer = errors.New("--metrics-secure needs an authorizer")

// Options configure the telemetry HTTP server. Zero values take the
// documented defaults (see setDefaults).
type Options struct {
	// BindAddress is where /metrics, /metrics.json and extra handlers are
	// served. Default ":8080", reachable from outside a pod; "0" disables the
	// listener.
	BindAddress string
	// HealthProbeBindAddress serves /healthz and /readyz. Default "": the
	// same listener as BindAddress (one port). "0" disables health serving.
	HealthProbeBindAddress string
	// ExtraHandlers are mounted on the metrics listener, keyed by path.
	ExtraHandlers map[string]http.Handler

	// SecureServing serves the metrics listener over TLS (minimum 1.2).
	// Default false, for local use; deployments turn it on.
	SecureServing bool
	// CertDir holds tls.crt and tls.key, re-read when they change. Empty
	// means a self-signed certificate generated at start.
	CertDir string
	// EnableHTTP2 allows HTTP/2 on the TLS listener. Default false, because
	// of the 2023 HTTP/2 rapid-reset attacks (CVE-2023-44487).
	EnableHTTP2 bool
	// MetricsFilter wraps the metrics routes and ExtraHandlers, e.g.
	// KubeAuth.Wrap for TokenReview and SubjectAccessReview checks. With
	// SecureServing it is required (New fails with ErrNoAuthorizer without
	// it, unless AllowUnauthenticated), and it also guards the detailed
	// probe reports: see New.
	MetricsFilter func(http.Handler) http.Handler
	// MaxRequestsPerClient bounds the requests one client address may have
	// in flight on the metrics routes and ExtraHandlers (before
	// authentication); the excess gets 429 at once. It keeps one address
	// from holding every slot of the pull endpoints' in-flight bound.
	// Default 8; negative means no limit.
	MaxRequestsPerClient int
	// AllowUnauthenticated lets SecureServing run without a MetricsFilter:
	// TLS, but /metrics for anyone who can connect. Default false.
	AllowUnauthenticated bool
	// Logger receives the self-signed certificate notice. Default slog.Default().
	Logger *slog.Logger

	// ReadHeaderTimeout defaults to 10s (it stops slowloris clients).
	ReadHeaderTimeout time.Duration
	// ReadTimeout defaults to 30s.
	ReadTimeout time.Duration
	// WriteTimeout defaults to 60s, long enough for a large scrape.
	WriteTimeout time.Duration
	// IdleTimeout defaults to 120s.
	IdleTimeout time.Duration
	// MaxHeaderBytes defaults to 64 KiB.
	MaxHeaderBytes int
	// ShutdownTimeout bounds the graceful shutdown Start performs when its
	// context ends. Default 10s.
	ShutdownTimeout time.Duration
}

// BindFlags binds --metrics-bind-address and --health-probe-bind-address.
func (o *Options) BindFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.BindAddress, FlagMetricsBindAddress, DefaultBindAddress,
		`Address for /metrics and /metrics.json, e.g. ":8080" or "127.0.0.1:9090". "0" disables it.`)
	fs.StringVar(&o.HealthProbeBindAddress, FlagHealthProbeBindAddress, "",
		`Address for /healthz and /readyz. Empty serves them on the metrics listener; "0" disables them.`)
	fs.BoolVar(&o.SecureServing, FlagMetricsSecure, false,
		"Serve metrics over TLS and require a bearer token allowed (by TokenReview and SubjectAccessReview) to get the path.")
	fs.StringVar(&o.CertDir, FlagMetricsCertDir, "",
		"Directory with tls.crt and tls.key for --metrics-secure, reloaded on change. Empty generates a self-signed certificate.")
	fs.IntVar(&o.MaxRequestsPerClient, FlagMaxRequestsPerClient, DefaultMaxRequestsPerClient,
		"Maximum concurrent requests to /metrics, /metrics.json and extra handlers from one client address (the TCP peer; behind a proxy or sidecar all scrapers share one); the excess gets 429 at once. Negative means no limit.")
	fs.BoolVar(&o.EnableHTTP2, FlagMetricsEnableHTTP2, false,
		"Allow HTTP/2 on the secure metrics listener (off by default: rapid-reset CVE-2023-44487).")
}

func (o *Options) setDefaults() {
	if o.BindAddress == "" {
		o.BindAddress = DefaultBindAddress
	}
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxRequestsPerClient == 0 {
		o.MaxRequestsPerClient = DefaultMaxRequestsPerClient
	}
}

// Routes are handlers keyed by path.
type Routes map[string]http.Handler

// Server serves telemetry and probes on one or two listeners.
type Server struct {
	opts    Options
	servers []*http.Server
	lns     []net.Listener
	addrs   map[string]string // role -> bound address

	mu       sync.Mutex
	started  bool
	shutdown bool
	done     chan struct{}
}

// New binds the listeners (so a port conflict fails here, and port 0 is
// resolved) but serves nothing until Start. metrics routes go on the metrics
// listener with ExtraHandlers; health routes go on the health listener, which
// is the same one unless HealthProbeBindAddress is set.
//
// With a MetricsFilter (SecureServing requires one), probe details are
// for authorized readers only:
// anonymous callers (the kubelet) get the status code and "ok" or
// "failed"; on the TLS metrics listener, a request with a bearer token, or
// one asking for a format (?format=kopf) or ?verbose, goes through
// MetricsFilter as a GET of /metrics would, and gets the full report. A
// separate health listener always answers with the summary.
func New(opts Options, metrics, health Routes) (*Server, error) {
	opts.setDefaults()
	if opts.SecureServing && opts.MetricsFilter == nil && !opts.AllowUnauthenticated && opts.BindAddress != "0" {
		return nil, fmt.Errorf("%w: set server.Options.MetricsFilter, for example server.NewKubeAuth(clientset).Wrap, which checks bearer tokens with TokenReview and SubjectAccessReview (operator.Run wires it for you); or set Options.AllowUnauthenticated to serve TLS to anyone on purpose", ErrNoAuthorizer)
	}
	s := &Server{opts: opts, addrs: map[string]string{}, done: make(chan struct{})}

	metricsMux := http.NewServeMux()
	var healthMux *http.ServeMux
	metricsOn := opts.BindAddress != "0"
	switch opts.HealthProbeBindAddress {
	case "":
		if metricsOn {
			healthMux = metricsMux
		}
	case "0":
	default:
		healthMux = http.NewServeMux()
	}
	all := Routes{}
	for p, h := range metrics {
		all[p] = h
	}
	for p, h := range opts.ExtraHandlers {
		if _, dup := all[p]; dup {
			return nil, fmt.Errorf("extra handler %s: path is already served by telemetry", p)
		}
		all[p] = h
	}
	if metricsOn {
		filtered := all
		if opts.MetricsFilter != nil {
			filtered = Routes{}
			for p, h := range all {
				filtered[p] = opts.MetricsFilter(h)
			}
		}
		if opts.MaxRequestsPerClient > 0 {
			limit := newPerClient(opts.MaxRequestsPerClient)
			limited := Routes{}
			for p, h := range filtered {
				limited[p] = limit.wrap(h)
			}
			filtered = limited
		}
		if err := mount(metricsMux, filtered); err != nil {
			return nil, err
		}
	}
	if healthMux != nil {
		if healthMux == metricsMux {
			for p := range health {
				if _, dup := all[p]; dup {
					return nil, fmt.Errorf("health handler %s: path is already served on the metrics listener", p)
				}
			}
		}
		if opts.MetricsFilter != nil {
			guarded := Routes{}
			for p, h := range health {
				if healthMux == metricsMux {
					guarded[p] = detailsForAuthorized(h, opts.MetricsFilter)
				} else {
					guarded[p] = summarize(h)
				}
			}
			health = guarded
		}
		if err := mount(healthMux, health); err != nil {
			return nil, err
		}
	}
	if metricsOn {
		if err := s.listen("metrics", FlagMetricsBindAddress, opts.BindAddress, metricsMux); err != nil {
			return nil, err
		}
		if opts.SecureServing {
			cs, err := newCertSource(opts.CertDir)
			if err != nil {
				s.closeListeners()
				return nil, err
			}
			if opts.CertDir == "" {
				opts.Logger.Info("serving metrics over TLS with a generated self-signed certificate; set --metrics-cert-dir to use your own")
			}
			s.lns[0] = tls.NewListener(s.lns[0], tlsConfig(cs, opts.EnableHTTP2))
			if !opts.EnableHTTP2 {
				s.servers[0].TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
			}
		}
	}
	if healthMux != nil && healthMux != metricsMux {
		if err := s.listen("health", FlagHealthProbeBindAddress, opts.HealthProbeBindAddress, healthMux); err != nil {
			s.closeListeners()
			return nil, err
		}
	} else if healthMux != nil {
		s.addrs["health"] = s.addrs["metrics"]
	}
	return s, nil
}

func mount(mux *http.ServeMux, routes Routes) error {
	paths := make([]string, 0, len(routes))
	for p := range routes {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if !strings.HasPrefix(p, "/") {
			return fmt.Errorf("route %q: path must start with /", p)
		}
		mux.Handle(p, routes[p])
	}
	return nil
}

func (s *Server) listen(role, flag, addr string, h http.Handler) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("invalid --%s %q: %v (accepted: host:port, :port, or 0 to disable)", flag, addr, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen for %s on %s: %w", role, addr, err)
	}
	s.lns = append(s.lns, ln)
	s.addrs[role] = ln.Addr().String()
	s.servers = append(s.servers, &http.Server{
		Handler:           h,
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		ReadTimeout:       s.opts.ReadTimeout,
		WriteTimeout:      s.opts.WriteTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
		MaxHeaderBytes:    s.opts.MaxHeaderBytes,
	})
	return nil
}

func (s *Server) closeListeners() {
	for _, ln := range s.lns {
		_ = ln.Close()
	}
}

// MetricsAddr is the bound metrics address ("" when disabled).
func (s *Server) MetricsAddr() string { return s.addrs["metrics"] }

// HealthAddr is the bound health address ("" when disabled); it equals
// MetricsAddr when both share a listener.
func (s *Server) HealthAddr() string { return s.addrs["health"] }

// Start serves until ctx ends, then shuts down gracefully within
// ShutdownTimeout. It returns nil after a clean shutdown, or the first
// serving error. Calling Start twice, or after Shutdown, returns ErrShutdown.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.started || s.shutdown {
		s.mu.Unlock()
		return ErrShutdown
	}
	s.started = true
	s.mu.Unlock()

	errs := make(chan error, len(s.servers))
	for i, srv := range s.servers {
		go func() {
			if err := srv.Serve(s.lns[i]); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs <- fmt.Errorf("serve on %s: %w", s.lns[i].Addr(), err)
			}
		}()
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errs:
	case <-s.done:
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	return errors.Join(serveErr, s.Shutdown(sctx))
}

// Shutdown stops the listeners and waits for in-flight requests until ctx
// ends. It is idempotent and safe before Start.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		return nil
	}
	s.shutdown = true
	started := s.started
	close(s.done)
	s.mu.Unlock()
	if !started {
		s.closeListeners()
		return nil
	}
	var errs []error
	for _, srv := range s.servers {
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
