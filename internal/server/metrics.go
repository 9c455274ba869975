package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/fedcred/fedcred/internal/graph"
	"github.com/fedcred/fedcred/internal/metrics"
	"github.com/fedcred/fedcred/internal/portal"
	"github.com/fedcred/fedcred/internal/sts"
)

// /metrics is not authenticated. What it shows is counts by route class,
// status class, AADSTS code and client kind, latencies, the mirror's
// sequence number and state, the audit queue and the Go runtime's
// figures: no path, tenant, client ID, resource, token or secret (the
// metrics package bounds every label to a fixed set). That is what a
// Prometheus scraper expects, and it leaks nothing an attacker could use
// beyond the server's load. Operators who do not want even that on the
// public listener set Config.MetricsListen (fedcred serve --metrics-listen)
// to serve it on a separate, plain-HTTP listener instead, reachable only
// from where they choose.

// withMetrics counts every request by route class, method and status
// class, the requests in flight, and their durations.
func withMetrics(reg *metrics.Registry, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route, method := routeClass(r), r.Method
		done := reg.StartRequest()
		rec := &statusRecorder{ResponseWriter: w}
		defer func() { done(route, method, rec.status) }()
		next.ServeHTTP(rec, r)
	})
}

// routeClass is the part of the server a request addresses, decided by the
// same prefixes route, withPortal and the handlers' patterns use. It never
// depends on more than a path's fixed segments, so unknown paths all fall
// into metrics.RouteOther.
func routeClass(r *http.Request) metrics.Route {
	if isVaultHost(r.Host) {
		return metrics.RouteVault
	}
	path := r.URL.Path
	lower := "/" + strings.TrimLeft(strings.ToLower(path), "/")
	switch {
	case portal.Serves(path):
		return metrics.RoutePortal
	case lower == "/subscriptions" || strings.HasPrefix(lower, "/subscriptions/") || lower == "/metadata/endpoints":
		return metrics.RouteManagement
	case strings.HasPrefix(path, "/vaults/"):
		return metrics.RouteVault
	case strings.HasPrefix(path, graph.PathPrefix):
		return metrics.RouteGraph
	case strings.HasPrefix(path, "/oidc/"):
		return metrics.RouteIssuer
	case strings.HasPrefix(path, sts.ADFSPath+"/") || path == "/common/discovery/instance":
		return metrics.RouteToken
	}
	// The token service's and the audit API's /{tenant}/... patterns.
	segs := strings.SplitN(strings.TrimPrefix(path, "/"), "/", 3)
	if len(segs) < 3 || segs[0] == "" {
		return metrics.RouteOther
	}
	switch {
	case segs[1] == "oauth2" || segs[1] == "discovery" || segs[1] == ".well-known" || segs[1] == "v2.0":
		return metrics.RouteToken
	case segs[1] == "fedcred" && segs[2] == "auditEvents":
		return metrics.RouteAudit
	}
	return metrics.RouteOther
}

// metricsOnly serves GET /metrics and nothing else.
func metricsOnly(reg *metrics.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET "+metrics.Path, reg.Handler())
	return mux
}

// serveMetrics serves the metrics on ln, over plain HTTP, until the
// returned server is shut down.
func serveMetrics(ln net.Listener, reg *metrics.Registry, log *slog.Logger) *http.Server {
	srv := &http.Server{
		Handler:           metricsOnly(reg),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("metrics serving", "url", "http://"+ln.Addr().String()+metrics.Path)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
	return srv
}

// listenMetrics binds the metrics listener at addr, or returns nil when
// addr is empty (metrics on the main listener).
func listenMetrics(addr string) (net.Listener, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s for metrics: %w", addr, err)
	}
	return ln, nil
}

// shutdownMetrics stops the metrics listener, if there is one.
func (s *Server) shutdownMetrics(ctx context.Context) error {
	if s.metricsHTTP == nil {
		return nil
	}
	if err := s.metricsHTTP.Shutdown(ctx); err != nil {
		return fmt.Errorf("shut down metrics listener: %w", err)
	}
	return nil
}
