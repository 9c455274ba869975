package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/fedcred/fedcred/internal/tlsca"
)

// Defaults of the server.
const (
	DefaultListen       = ":9443" // the Service maps 443 to it
	DefaultHealthListen = ":9440" // plain HTTP /healthz and /readyz, as azure-workload-identity's --health-addr
	// DefaultShutdownDelay is how long the server keeps serving after its
	// context ends, with /readyz failing, so the API server stops sending
	// it reviews before it stops listening (failurePolicy Fail would refuse
	// the pods otherwise).
	DefaultShutdownDelay = 5 * time.Second
	shutdownTimeout      = 15 * time.Second
)

// Health paths, served on both listeners.
const (
	HealthzPath = "/healthz"
	ReadyzPath  = "/readyz"
)

// Config configures the webhook server.
type Config struct {
	// Listen is the HTTPS address of the webhook; default DefaultListen.
	Listen string
	// HealthListen is a plain HTTP address for /healthz and /readyz (they
	// are on the HTTPS listener too); empty serves no second listener.
	HealthListen string
	// CertFile and KeyFile are the serving pair, reloaded when they change.
	CertFile, KeyFile string
	// CertCheckInterval is how often, at most, they are looked at; default
	// tlsca.DefaultReloadInterval.
	CertCheckInterval time.Duration
	// MinTLSVersion is tls.VersionTLS12 or tls.VersionTLS13 (the default).
	MinTLSVersion uint16
	// Mutator is what is done to labelled pods.
	Mutator Mutator
	// Client reaches the API server for service accounts.
	Client kubernetes.Interface
	// ShutdownDelay: see DefaultShutdownDelay. Zero means none; the command
	// passes DefaultShutdownDelay.
	ShutdownDelay time.Duration
	Logger        *slog.Logger     // defaults to discarding
	Now           func() time.Time // defaults to time.Now
}

// Server is a running webhook.
type Server struct {
	addr, healthAddr net.Addr
	done             chan struct{}
	err              error
}

// Run starts the webhook and serves until ctx ends, then shuts down
// gracefully.
func Run(ctx context.Context, cfg Config) error {
	s, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	return s.Wait()
}

// Start binds the listeners, starts the service-account cache and serves
// in the background until ctx ends. The server is ready (ReadyzPath) once
// the cache has synced and a certificate is loaded.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Client == nil {
		return nil, errors.New("a kubernetes client is required")
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.MinTLSVersion == 0 {
		cfg.MinTLSVersion = tls.VersionTLS13
	}
	if cfg.MinTLSVersion != tls.VersionTLS12 && cfg.MinTLSVersion != tls.VersionTLS13 {
		return nil, fmt.Errorf("minimum TLS version %#x is not TLS 1.2 or 1.3", cfg.MinTLSVersion)
	}
	if _, err := ParseLayout(string(cfg.Mutator.Layout.orDefault())); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	certs, err := tlsca.NewReloader(tlsca.ReloaderConfig{CertFile: cfg.CertFile, KeyFile: cfg.KeyFile,
		Interval: cfg.CertCheckInterval, Now: cfg.Now, Logger: log})
	if err != nil {
		return nil, err
	}
	_ = certs.Ready() // load now, so that a missing pair is logged at start
	accounts, err := NewServiceAccountCache(cfg.Client)
	if err != nil {
		return nil, err
	}

	var stopping atomic.Bool
	ready := func() error {
		switch {
		case stopping.Load():
			return errors.New("shutting down")
		case !accounts.HasSynced():
			return errors.New("service account cache not synced")
		}
		return certs.Ready()
	}
	mux := http.NewServeMux()
	mountHealth(mux, ready)
	mux.Handle(MutatePath, &Handler{Mutator: cfg.Mutator, ServiceAccounts: accounts, Logger: log})

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	servers := []*http.Server{newHTTPServer(mux, log)}
	servers[0].TLSConfig = &tls.Config{MinVersion: cfg.MinTLSVersion, GetCertificate: certs.GetCertificate}
	listeners := []net.Listener{ln}
	s := &Server{addr: ln.Addr(), done: make(chan struct{})}
	if cfg.HealthListen != "" {
		hln, err := net.Listen("tcp", cfg.HealthListen)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("listen on %s: %w", cfg.HealthListen, err)
		}
		health := http.NewServeMux()
		mountHealth(health, ready)
		servers = append(servers, newHTTPServer(health, log))
		listeners = append(listeners, hln)
		s.healthAddr = hln.Addr()
	}

	cacheCtx, stopCache := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { accounts.Run(cacheCtx) })
	serveErr := make(chan error, len(servers))
	for i, srv := range servers {
		wg.Go(func() {
			var err error
			if srv.TLSConfig != nil {
				err = srv.ServeTLS(listeners[i], "", "")
			} else {
				err = srv.Serve(listeners[i])
			}
			if !errors.Is(err, http.ErrServerClosed) {
				serveErr <- fmt.Errorf("serve %s: %w", listeners[i].Addr(), err)
			}
		})
	}
	log.Info("fedcred webhook serving", "addr", s.addr.String(), "health_addr", cfg.HealthListen,
		"layout", string(cfg.Mutator.Layout.orDefault()), "authority_host", cfg.Mutator.AuthorityHost)

	go func() {
		defer close(s.done)
		select {
		case <-ctx.Done():
			stopping.Store(true)
			log.Info("fedcred webhook shutting down", "delay", cfg.ShutdownDelay.String())
			select {
			case <-time.After(cfg.ShutdownDelay):
			case s.err = <-serveErr:
			}
		case s.err = <-serveErr:
			stopping.Store(true)
		}
		shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		for _, srv := range servers {
			if err := srv.Shutdown(shutdownCtx); err != nil && s.err == nil {
				s.err = fmt.Errorf("shut down: %w", err)
			}
		}
		stopCache()
		wg.Wait()
	}()
	return s, nil
}

// ParseTLSVersion parses a minimum TLS version, "1.2" or "1.3".
func ParseTLSVersion(s string) (uint16, error) {
	switch s {
	case "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("unknown TLS version %q: use 1.2 or 1.3", s)
}

// Addr is the webhook's HTTPS address.
func (s *Server) Addr() net.Addr { return s.addr }

// HealthAddr is the plain HTTP health address, or nil.
func (s *Server) HealthAddr() net.Addr { return s.healthAddr }

// Wait blocks until the server has shut down and returns why it stopped
// serving before its context ended, if it did.
func (s *Server) Wait() error {
	<-s.done
	return s.err
}

// mountHealth serves HealthzPath (always 200) and ReadyzPath (200 when
// ready returns nil, else 503 with the reason).
func mountHealth(mux *http.ServeMux, ready func() error) {
	mux.HandleFunc("GET "+HealthzPath, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET "+ReadyzPath, func(w http.ResponseWriter, _ *http.Request) {
		if err := ready(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
}

// newHTTPServer returns a server with timeouts: the API server calls a
// webhook with a timeout of at most 30 seconds.
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
