package server

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/fedcred/fedcred/internal/ratelimit"
	"github.com/fedcred/fedcred/internal/vault"
)

// limitRate is the rate limit a Config asks for: a zero rate takes def
// (with burst, when given), a negative one turns the limit off.
func limitRate(perSecond float64, burst int, def ratelimit.Rate) ratelimit.Rate {
	switch {
	case perSecond < 0:
		return ratelimit.Rate{}
	case perSecond == 0:
		if burst > 0 {
			def.Burst = burst
		}
		return def
	}
	return ratelimit.Rate{PerSecond: perSecond, Burst: burst}
}

// route sends ARM-shaped paths (/subscriptions..., /metadata/endpoints; ARM
// matches paths case-insensitively and clients may send a leading "//") to
// the management API, Key Vault data-plane paths (/vaults/...) and every
// request for a <name>.vault.azure.net host to the vault, and everything else
// to mux. Prefix routing here keeps these path spaces from conflicting with the token service's /{tenant}/... patterns.
func route(arm, vaults, mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.ToLower(r.URL.Path)
		p = "/" + strings.TrimLeft(p, "/")
		switch {
		case isVaultHost(r.Host):
			vaults.ServeHTTP(w, r)
		case p == "/subscriptions" || strings.HasPrefix(p, "/subscriptions/") || p == "/metadata/endpoints":
			arm.ServeHTTP(w, r)
		case strings.HasPrefix(r.URL.Path, "/vaults/"):
			vaults.ServeHTTP(w, r)
		default:
			mux.ServeHTTP(w, r)
		}
	})
}

// isVaultHost reports whether host is a Key Vault host, <name>.vault.azure.net.
func isVaultHost(host string) bool {
	_, ok := vault.HostVault(host)
	return ok
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// withAccessLog logs method, path (never the query or body, which may carry
// credentials), status and duration.
func withAccessLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", rec.status, "duration", time.Since(start))
	})
}

// withRecover turns a panic into a generic 500 without leaking details.
func withRecover(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("handler panic", "method", r.Method, "path", r.URL.Path, "panic", v)
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}
