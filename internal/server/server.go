// Package server is fedcred's composition root: it opens the store, loads or
// creates the TLS material and key-encryption key, bootstraps the directory,
// builds every role's handler (STS, management API, cluster issuers, health)
// and serves them on one HTTPS listener with timeouts and graceful shutdown.
package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fedcred/fedcred/internal/arm"
	"github.com/fedcred/fedcred/internal/audit"
	"github.com/fedcred/fedcred/internal/config"
	"github.com/fedcred/fedcred/internal/graph"
	"github.com/fedcred/fedcred/internal/issuer"
	"github.com/fedcred/fedcred/internal/keys"
	"github.com/fedcred/fedcred/internal/metrics"
	"github.com/fedcred/fedcred/internal/portal"
	"github.com/fedcred/fedcred/internal/ratelimit"
	"github.com/fedcred/fedcred/internal/rbac"
	"github.com/fedcred/fedcred/internal/remoteissuer"
	"github.com/fedcred/fedcred/internal/store"
	"github.com/fedcred/fedcred/internal/store/mirror"
	"github.com/fedcred/fedcred/internal/store/postgres"
	"github.com/fedcred/fedcred/internal/store/sqlite"
	"github.com/fedcred/fedcred/internal/sts"
	"github.com/fedcred/fedcred/internal/tlsca"
	"github.com/fedcred/fedcred/internal/trust"
	"github.com/fedcred/fedcred/internal/vault"
	"github.com/fedcred/fedcred/pkg/accesstoken"
)

// Config configures a server. Zero values take the documented defaults.
type Config struct {
	// DataDir holds the database, TLS material, key-encryption key and
	// admin.json. Required.
	DataDir string
	// Listen is the TCP address to listen on (default 127.0.0.1:8443).
	Listen string
	// PublicURL is the https URL clients use to reach the server; it appears
	// in issuer URLs and discovery documents. Default: https://localhost:<port>
	// when listening on a loopback or unspecified address, else
	// https://<listen address>.
	PublicURL string
	// Store is the database: empty or a file path for SQLite (default
	// <DataDir>/fedcred.db), "sqlite://<path>", or a PostgreSQL URL
	// ("postgres://..." or "postgresql://...") for several replicas.
	Store string
	// MaxStale is how long a replica keeps serving tokens from memory while
	// it cannot reach PostgreSQL (default mirror.DefaultMaxStale).
	MaxStale time.Duration
	// TenantKeyRotation and ClusterKeyRotation are how long a signing key
	// signs before it is rotated (defaults DefaultTenantKeyRotation and
	// DefaultClusterKeyRotation; negative turns automatic rotation off).
	TenantKeyRotation, ClusterKeyRotation time.Duration
	// TLSCertFile and TLSKeyFile serve a given certificate instead of one
	// issued by the local CA.
	TLSCertFile, TLSKeyFile string
	// KEKFile is the key-encryption key (default <DataDir>/kek).
	KEKFile string
	// PreviousKEKFiles are earlier key-encryption keys: what they sealed
	// still opens, and is re-sealed with KEKFile in the background, after
	// which they can be dropped.
	PreviousKEKFiles []string
	// RemoteIssuerAllowedNetworks lets fedcred fetch the keys of issuers at
	// addresses it otherwise refuses (loopback, private, link-local): an
	// operator's allow-list, e.g. 10.0.0.0/8 for private clusters.
	RemoteIssuerAllowedNetworks []netip.Prefix
	// RemoteIssuerAllowHTTP allows issuers without TLS. For development only.
	RemoteIssuerAllowHTTP bool
	// RemoteIssuerCAFile is a PEM bundle of CAs trusted for remote issuers,
	// in place of the system roots (for issuers behind a private CA).
	RemoteIssuerCAFile string
	// EntraLimits enforces Entra's limits (20 federated credentials per
	// identity) for users who test against them.
	EntraLimits bool
	// RateLimitPerClient is how many access tokens per second one client
	// may obtain, and how many successful management, Key Vault and Graph
	// calls it may make; RateLimitPerAddress is how many requests per
	// second one source address may make. Zero takes the default
	// (ratelimit.DefaultPerClient, ratelimit.DefaultPerAddress), negative
	// turns the limit off. The bursts are the bucket sizes (default twice
	// the rate).
	RateLimitPerClient, RateLimitPerAddress           float64
	RateLimitPerClientBurst, RateLimitPerAddressBurst int
	// RemoteIssuerResolver resolves remote issuers' host names (default
	// the system resolver); every address it returns still passes the
	// guard.
	RemoteIssuerResolver remoteissuer.Resolver
	// AuditRetention is how long audit events are kept (default
	// DefaultAuditRetention; negative keeps them forever).
	AuditRetention time.Duration
	// MetricsListen, when set, is the address of a separate plain-HTTP
	// listener that serves /metrics, which the main listener then does
	// not. Empty serves /metrics on the main listener, unauthenticated
	// (see metrics.go).
	MetricsListen string
	// Logger defaults to a text logger on stderr.
	Logger *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
}

// Server is a running fedcred server.
type Server struct {
	// URL is the public URL.
	URL string
	// Addr is the address the listener is bound to.
	Addr string
	// MetricsAddr is the address the metrics listener is bound to, "" when
	// /metrics is on the main listener (Config.MetricsListen).
	MetricsAddr string
	// Admin is what admin.json holds.
	Admin config.Admin

	log            *slog.Logger
	http           *http.Server
	store          store.Store
	done           chan error
	stopBackground context.CancelFunc
	background     *sync.WaitGroup
	audit          *audit.Log
	metricsHTTP    *http.Server
}

// Shutdown timeouts.
const shutdownTimeout = 20 * time.Second

// Start opens everything, binds the listener and serves in the background.
func Start(ctx context.Context, cfg Config) (_ *Server, err error) {
	if cfg.DataDir == "" {
		return nil, errors.New("data directory is required")
	}
	if cfg.Listen == "" {
		cfg.Listen = config.DefaultListenAddr
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}

	unlock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	defer unlock()

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	defer func() {
		if err != nil {
			ln.Close()
		}
	}()
	metricsLn, err := listenMetrics(cfg.MetricsListen)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil && metricsLn != nil {
			metricsLn.Close()
		}
	}()
	publicURL, err := resolvePublicURL(cfg.PublicURL, ln.Addr().(*net.TCPAddr))
	if err != nil {
		return nil, err
	}

	cert, caFile, err := loadTLS(cfg, publicURL)
	if err != nil {
		return nil, err
	}

	backend, coord, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			backend.Close()
		}
	}()
	maxStale := cfg.MaxStale
	if maxStale == 0 {
		maxStale = mirror.DefaultMaxStale
	}
	mir, err := mirror.New(ctx, mirror.Config{Backend: backend, Coordinator: coord, Logger: log, MaxStale: maxStale})
	if err != nil {
		return nil, err
	}
	var st store.Store = mir
	bg, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	var bgDone sync.WaitGroup
	defer func() {
		if err != nil {
			stopBackground()
			bgDone.Wait()
		}
	}()
	bgDone.Go(func() { mir.Run(bg) })
	// The audit log reads and writes the backend itself: nothing on the
	// token path reads events, so they need not wait for replicas to apply
	// them. Its writer drains the queue when bg ends (Shutdown).
	auditLog, err := audit.New(audit.Config{Store: backend, Now: cfg.Now, Logger: log.With("component", "audit")})
	if err != nil {
		return nil, err
	}
	bgDone.Go(func() { auditLog.Run(bg) })
	if err := waitServing(ctx, mir, joinTimeout); err != nil {
		return nil, err
	}

	kekPath := cfg.KEKFile
	if kekPath == "" {
		kekPath = filepath.Join(cfg.DataDir, config.KEKFile)
	}
	kek, err := keys.LoadOrCreateKEK(kekPath)
	if err != nil {
		return nil, err
	}
	var previous [][]byte
	for _, p := range cfg.PreviousKEKFiles {
		old, err := keys.LoadKEK(p)
		if err != nil {
			return nil, err
		}
		previous = append(previous, old)
	}
	sealer, err := keys.NewSealer(kek, previous...)
	if err != nil {
		return nil, err
	}
	km, err := keys.NewManager(keys.Config{Store: st, Sealer: sealer, Now: cfg.Now})
	if err != nil {
		return nil, err
	}

	dir, err := bootstrap(ctx, st, cfg.DataDir, publicURL, caFile, cfg.Now().UTC())
	if err != nil {
		return nil, err
	}
	if err := km.Ensure(ctx, keys.TenantOwner(dir.Tenant.ID), tenantRing(dir.Tenant.ID)); err != nil {
		return nil, fmt.Errorf("prepare tenant keys: %w", err)
	}

	bgDone.Go(func() {
		(&maintenance{
			store: st, keys: km, pruner: asPruner(backend), log: log,
			reseal: len(previous) > 0, sealer: sealer,
			audit: auditLog, auditRetention: orDuration(cfg.AuditRetention, DefaultAuditRetention),
			tenantKeyAge:  orDuration(cfg.TenantKeyRotation, DefaultTenantKeyRotation),
			clusterKeyAge: orDuration(cfg.ClusterKeyRotation, DefaultClusterKeyRotation),
		}).run(bg)
	})

	iss, err := issuer.New(issuer.Config{Store: st, Keys: km, PublicURL: publicURL, Now: cfg.Now})
	if err != nil {
		return nil, err
	}
	mgmtAudiences := ManagementAudiences(publicURL)
	remoteClient, err := remoteIssuerClient(cfg.RemoteIssuerCAFile)
	if err != nil {
		return nil, err
	}
	remote, err := remoteissuer.New(remoteissuer.Config{
		Client:    remoteClient,
		AllowHTTP: cfg.RemoteIssuerAllowHTTP, AllowedNetworks: cfg.RemoteIssuerAllowedNetworks,
		Resolver: cfg.RemoteIssuerResolver,
		Now:      cfg.Now, Logger: log.With("component", "remoteissuer"),
	})
	if err != nil {
		return nil, err
	}
	bgDone.Go(func() { remote.Run(bg) })
	reg, err := metrics.New(metrics.Config{Mirror: mir, AuditStats: auditLog.Stats, Now: cfg.Now, Logger: log.With("component", "metrics")})
	if err != nil {
		return nil, err
	}
	stsHandler, err := sts.New(sts.Config{
		Store: st, Keys: km, Issuers: trust.Keys{Hosted: iss, Uploaded: trust.NewUploadedStore(st), Remote: remote, PublicURL: publicURL},
		PublicURL: publicURL, Now: cfg.Now, Logger: log,
		ManagementAudiences: mgmtAudiences, Audit: auditLog, Metrics: reg,
	})
	if err != nil {
		return nil, err
	}
	verifier := &tokenVerifier{store: st, keys: km, publicURL: publicURL, now: cfg.Now}
	authn := &authenticator{verifier: verifier, audiences: mgmtAudiences}
	authz := rbac.NewAuthorizer(st)
	armHandler, err := arm.New(arm.Config{
		Store: st, PublicURL: publicURL, TenantID: dir.Tenant.ID, Issuers: iss, Authorizer: authz,
		Authenticate: authn.Authenticate, EntraLimits: cfg.EntraLimits, Now: cfg.Now, Logger: log,
		Audit: auditLog,
	})
	if err != nil {
		return nil, err
	}
	vaultHandler, err := vault.New(vault.Config{
		Store: st, Sealer: sealer, Authorizer: authz, PublicURL: publicURL, TenantID: dir.Tenant.ID,
		Authenticate: verifier.vaultCaller, Now: cfg.Now, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	graphHandler, err := graph.New(graph.Config{
		Store: st, Authorizer: authz, PublicURL: publicURL, Now: cfg.Now, Logger: log,
		ReservedIdentifierURIs: append(sts.BuiltinResources(), mgmtAudiences...),
		Authenticate:           graphAuthenticator(verifier, graph.Audiences(publicURL)),
	})
	if err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	stsHandler.Mount(mux)
	iss.Mount(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", readyz(mir))
	if metricsLn == nil {
		mux.Handle("GET "+metrics.Path, reg.Handler())
	}
	auditAPI, err := audit.NewHandler(audit.HandlerConfig{
		Store: backend, Authorizer: authz, Authenticate: auditAuthenticator(authn), PublicURL: publicURL, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	auditAPI.Mount(mux)
	portalHandler, err := portal.New(portal.Config{
		Management: armHandler, STS: mux, Issuers: mux, Audit: auditAPI,
		Authenticate: authn.Authenticate, WithPrincipal: withPortalPrincipal,
		Store: st, PublicURL: publicURL, TenantID: dir.Tenant.ID, Now: cfg.Now, Logger: log,
	})
	if err != nil {
		return nil, err
	}

	limits, err := ratelimit.New(ratelimit.Config{
		PerClient:  limitRate(cfg.RateLimitPerClient, cfg.RateLimitPerClientBurst, ratelimit.DefaultPerClient),
		PerAddress: limitRate(cfg.RateLimitPerAddress, cfg.RateLimitPerAddressBurst, ratelimit.DefaultPerAddress),
		PublicURL:  publicURL, VaultHost: isVaultHost, Now: cfg.Now, Logger: log,
	})
	if err != nil {
		return nil, err
	}

	s := &Server{
		URL:            publicURL,
		Addr:           ln.Addr().String(),
		log:            log,
		store:          st,
		done:           make(chan error, 1),
		stopBackground: stopBackground,
		background:     &bgDone,
		audit:          auditLog,
		Admin:          config.Admin{TenantID: dir.Tenant.ID, SubscriptionID: dir.Subscription.ID, ClientID: dir.Admin.ClientID, Server: publicURL, CAFile: caFile},
	}
	s.http = &http.Server{
		Handler:           withMetrics(reg, withRecover(log, withAccessLog(log, limits.Wrap(withPortal(portalHandler, route(armHandler, vaultHandler, graphHandler.Route(mux))))))),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		TLSConfig: &tls.Config{
			MinVersion:     tls.VersionTLS12,
			GetCertificate: cert.GetCertificate,
		},
	}
	go func() {
		err := s.http.ServeTLS(ln, "", "")
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	if metricsLn != nil {
		s.MetricsAddr = metricsLn.Addr().String()
		s.metricsHTTP = serveMetrics(metricsLn, reg, log)
	}
	log.Info("fedcred serving", "url", publicURL, "addr", s.Addr, "data_dir", cfg.DataDir,
		"tenant_id", dir.Tenant.ID, "subscription_id", dir.Subscription.ID, "ca_file", caFile)
	return s, nil
}

// Run starts the server and serves until ctx is done, then shuts down
// gracefully: in-flight requests finish and the store is closed cleanly.
func Run(ctx context.Context, cfg Config) error {
	s, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case err := <-s.done:
		s.stopBackground()
		s.background.Wait()
		s.store.Close()
		s.shutdownMetrics(context.Background())
		return fmt.Errorf("serve: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	return s.Shutdown(sctx)
}

// Shutdown stops accepting connections, waits for in-flight requests and
// closes the store.
func (s *Server) Shutdown(ctx context.Context) error {
	s.log.Info("fedcred shutting down")
	err := s.http.Shutdown(ctx)
	if serr := <-s.done; serr != nil && err == nil {
		err = serr
	}
	err = errors.Join(err, s.shutdownMetrics(ctx))
	s.stopBackground()
	s.background.Wait()
	return errors.Join(err, s.store.Close())
}

// AuditStats are the audit log's counters: events written, and events lost
// to a full queue or a failing store.
func (s *Server) AuditStats() audit.Stats { return s.audit.Stats() }

// auditAuthenticator authenticates readers of the audit API as the
// management API does.
func auditAuthenticator(a *authenticator) func(*http.Request) (audit.Caller, error) {
	return func(r *http.Request) (audit.Caller, error) {
		p, err := a.Authenticate(r)
		if errors.Is(err, arm.ErrUnauthenticated) {
			return audit.Caller{}, fmt.Errorf("%w: %v", audit.ErrUnauthenticated, err)
		}
		if err != nil {
			return audit.Caller{}, err
		}
		return audit.Caller{ObjectID: p.ObjectID, ClientID: p.ClientID, TenantID: p.TenantID}, nil
	}
}

// withPortal sends the portal's paths to the portal and everything else to
// next.
func withPortal(p, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if portal.Serves(r.URL.Path) {
			p.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ManagementAudiences are the token audiences the management API accepts:
// the server's own URL and Azure's two management audiences, each with and
// without a trailing slash.
func ManagementAudiences(publicURL string) []string {
	base := strings.TrimSuffix(publicURL, "/")
	return []string{
		base, base + "/",
		"https://management.core.windows.net/", "https://management.core.windows.net",
		"https://management.azure.com/", "https://management.azure.com",
	}
}

func tenantRing(tenantID string) keys.RingOptions {
	return keys.RingOptions{Certificate: true, CommonName: "fedcred tenant " + tenantID}
}

func resolvePublicURL(configured string, addr *net.TCPAddr) (string, error) {
	if configured == "" {
		host := addr.IP.String()
		if addr.IP.IsLoopback() || addr.IP.IsUnspecified() {
			host = "localhost"
		}
		return "https://" + net.JoinHostPort(host, fmt.Sprint(addr.Port)), nil
	}
	u, err := url.Parse(configured)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return "", fmt.Errorf("public URL %q must be https://host[:port] with no path, query or fragment", configured)
	}
	return "https://" + u.Host, nil
}

// loadTLS returns the server certificate (reloaded when its files change)
// and the CA file clients should trust ("" when the certificate was given).
func loadTLS(cfg Config, publicURL string) (*tlsca.Reloader, string, error) {
	caFile := filepath.Join(cfg.DataDir, config.CACertFile)
	certFile, keyFile := cfg.TLSCertFile, cfg.TLSKeyFile
	if certFile != "" || keyFile != "" {
		if certFile == "" || keyFile == "" {
			return nil, "", errors.New("--tls-cert-file and --tls-key-file go together")
		}
		if _, err := os.Stat(caFile); err != nil {
			caFile = ""
		}
	} else {
		u, _ := url.Parse(publicURL)
		certFile, keyFile = filepath.Join(cfg.DataDir, config.TLSCertFile), filepath.Join(cfg.DataDir, config.TLSKeyFile)
		_, err := tlsca.Ensure(tlsca.Files{
			CACert: caFile,
			CAKey:  filepath.Join(cfg.DataDir, config.CAKeyFile),
			Cert:   certFile,
			Key:    keyFile,
		}, []string{u.Hostname()}, cfg.Now())
		if err != nil {
			return nil, "", fmt.Errorf("prepare TLS: %w", err)
		}
	}
	r, err := tlsca.NewReloader(tlsca.ReloaderConfig{CertFile: certFile, KeyFile: keyFile, Now: cfg.Now, Logger: cfg.Logger})
	if err != nil {
		return nil, "", err
	}
	if err := r.Ready(); err != nil { // a pair that does not load is a start-up error
		return nil, "", fmt.Errorf("load TLS certificate: %w", err)
	}
	return r, caFile, nil
}

// remoteIssuerClient returns an HTTP client trusting the CAs in caFile, or
// nil (the default client) when caFile is empty.
func remoteIssuerClient(caFile string) (*http.Client, error) {
	if caFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read remote issuer CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("remote issuer CA file %s holds no certificate", caFile)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, nil
}

// joinTimeout bounds how long a replica waits to catch up and join at start.
const joinTimeout = 30 * time.Second

// openStore opens the configured backend. PostgreSQL also coordinates the
// replicas that share it; SQLite serves one process.
func openStore(ctx context.Context, cfg Config) (mirror.Backend, mirror.Coordinator, error) {
	path := cfg.Store
	switch {
	case strings.HasPrefix(path, "postgres://") || strings.HasPrefix(path, "postgresql://"):
		pg, err := postgres.Open(ctx, path, postgres.Options{Logger: cfg.Logger})
		if err != nil {
			return nil, nil, err
		}
		return pg, pg, nil
	case path == "":
		path = filepath.Join(cfg.DataDir, config.DatabaseFile)
	case strings.HasPrefix(path, "sqlite://"):
		path = strings.TrimPrefix(path, "sqlite://")
	case strings.Contains(path, "://"):
		return nil, nil, fmt.Errorf("unsupported store %q: use a SQLite file path, sqlite://<path> or postgres://...", redactURL(path))
	}
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, nil, err
	}
	return db, nil, nil
}

func asPruner(b mirror.Backend) pruner {
	p, _ := b.(pruner)
	return p
}

func orDuration(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// waitServing waits until the mirror has loaded, caught up and (with
// replicas) joined, so the server answers from a current copy from its first
// request.
func waitServing(ctx context.Context, m *mirror.Mirror, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for !m.Serving() {
		if time.Now().After(deadline) {
			return fmt.Errorf("replica %s could not catch up with the store within %v", m.ReplicaID(), timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// redactURL drops any password from a store URL before it is shown.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "<unparseable store URL>"
	}
	return u.Redacted()
}

// readyz answers 200 while this replica serves from a current copy of the
// store, and 503 while it is fenced or catching up.
func readyz(m *mirror.Mirror) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !m.Serving() {
			http.Error(w, "catching up with the store", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	}
}

// graphAuthenticator implements graph.Config.Authenticate: tokens this
// server's STS issued for one of audiences.
func graphAuthenticator(v *tokenVerifier, audiences []string) func(*http.Request) (graph.Caller, error) {
	return func(r *http.Request) (graph.Caller, error) {
		token, err := bearer(r)
		var c *accesstoken.Claims
		if err == nil {
			c, err = v.verify(r.Context(), token, audiences)
		}
		if errors.Is(err, errInvalidToken) {
			return graph.Caller{}, fmt.Errorf("%w: %v", graph.ErrUnauthenticated, err)
		}
		if err != nil {
			return graph.Caller{}, err
		}
		return graph.Caller{ObjectID: c.ObjectID, ClientID: c.AppID, TenantID: c.TenantID}, nil
	}
}
