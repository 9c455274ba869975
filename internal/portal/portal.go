package portal

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/fedcred/fedcred/internal/arm"
	"github.com/fedcred/fedcred/internal/audit"
	"github.com/fedcred/fedcred/internal/store"
)

// Paths the portal serves.
const (
	// Prefix is where the portal is mounted.
	Prefix = "/portal/"
	// SignInLinksPath is the API that issues one-time sign-in links.
	SignInLinksPath = "/portal/api/sign-in-links"
	// SignInPath is where a sign-in link points.
	SignInPath = "/portal/sign-in"
)

// Defaults of the session and sign-in lifetimes.
const (
	DefaultSessionLifetime = 8 * time.Hour
	DefaultIdleTimeout     = 30 * time.Minute
	DefaultSignInLifetime  = 5 * time.Minute
)

// maxFormBytes bounds every form the portal accepts.
const maxFormBytes = 64 << 10

// Config configures a Handler.
type Config struct {
	// Management is the management API handler (the ARM-shaped API). Every
	// read and write the portal makes goes through it, in-process.
	Management http.Handler
	// STS serves the token endpoint, POST /{tenant}/oauth2/v2.0/token.
	STS http.Handler
	// Issuers serves the cluster issuers' discovery documents and JWKS,
	// GET /oidc/{tenant}/{uid}/... (the server's mux serves both).
	Issuers http.Handler
	// Audit serves the audit log, GET audit.Path (an *audit.Handler, or a
	// mux that routes that path to one). The identity's Audit tab reads it
	// in-process with the signed-in principal in the context
	// (WithPrincipal), so its Authenticate must honour that principal as the
	// management API's does.
	Audit http.Handler
	// Authenticate identifies the caller of the sign-in link API from its
	// bearer token, as the management API does.
	Authenticate func(r *http.Request) (arm.Principal, error)
	// WithPrincipal returns a context that makes the management API treat a
	// request as made by p. It must only be honoured for requests made in
	// this process.
	WithPrincipal func(ctx context.Context, p arm.Principal) context.Context
	// Store holds the sign-in codes and sessions.
	Store store.Store
	// PublicURL is the server's external https URL; sign-in links point
	// there and forms must come from its origin.
	PublicURL string
	// TenantID is the default tenant, used by "Try it" when an identity does
	// not name its own.
	TenantID string
	// SessionLifetime, IdleTimeout and SignInLifetime default to
	// DefaultSessionLifetime, DefaultIdleTimeout and DefaultSignInLifetime.
	SessionLifetime, IdleTimeout, SignInLifetime time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives failures; nil discards them.
	Logger *slog.Logger
}

// Handler serves the portal. It is safe for concurrent use.
type Handler struct {
	cfg       Config
	publicURL string
	origin    string // scheme://host of publicURL
	now       func() time.Time
	log       *slog.Logger
	pages     map[string]*template.Template
	assets    map[string]asset // keyed by file name
	mux       *http.ServeMux
	audit     http.Handler // Config.Audit behind its route, so the tenant path value is set
	// auditCalls bounds the audit API requests one page of the audit tab
	// makes (auditMaxCalls; tests lower it).
	auditCalls int
}

// New checks cfg and returns a Handler.
func New(cfg Config) (*Handler, error) {
	var errs []error
	if cfg.Management == nil {
		errs = append(errs, errors.New("management handler is required"))
	}
	if cfg.STS == nil {
		errs = append(errs, errors.New("token service handler is required"))
	}
	if cfg.Issuers == nil {
		errs = append(errs, errors.New("issuers handler is required"))
	}
	if cfg.Audit == nil {
		errs = append(errs, errors.New("audit handler is required"))
	}
	if cfg.Authenticate == nil {
		errs = append(errs, errors.New("authenticate func is required"))
	}
	if cfg.WithPrincipal == nil {
		errs = append(errs, errors.New("with-principal func is required"))
	}
	if cfg.Store == nil {
		errs = append(errs, errors.New("store is required"))
	}
	if cfg.TenantID == "" {
		errs = append(errs, errors.New("tenant id is required"))
	}
	publicURL := strings.TrimRight(cfg.PublicURL, "/")
	u, err := url.Parse(publicURL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Path != "" {
		errs = append(errs, fmt.Errorf("public url %q must be https://host[:port]", cfg.PublicURL))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("portal config: %w", err)
	}
	if cfg.SessionLifetime <= 0 {
		cfg.SessionLifetime = DefaultSessionLifetime
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.SignInLifetime <= 0 {
		cfg.SignInLifetime = DefaultSignInLifetime
	}
	h := &Handler{
		cfg:        cfg,
		publicURL:  publicURL,
		origin:     u.Scheme + "://" + u.Host,
		now:        cfg.Now,
		log:        cfg.Logger,
		auditCalls: auditMaxCalls,
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.assets, err = loadAssets(); err != nil {
		return nil, err
	}
	if h.pages, err = h.parsePages(); err != nil {
		return nil, err
	}
	h.mux = h.routes()
	auditMux := http.NewServeMux()
	auditMux.Handle("GET "+audit.Path, cfg.Audit)
	h.audit = auditMux
	return h, nil
}

// Serves reports whether path is the portal's: Prefix and everything below
// it. The server sends those paths to the portal before its other routes,
// whose patterns (such as the token service's /{tenant}/...) would match
// some of them too.
func Serves(path string) bool {
	return path == strings.TrimSuffix(Prefix, "/") || strings.HasPrefix(path, Prefix)
}

// ServeHTTP serves everything under Prefix.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header())
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	h.mux.ServeHTTP(w, r)
}

// routes builds the portal's mux. Pages that need a session are wrapped by
// signedIn, which also checks CSRF on every POST.
func (h *Handler) routes() *http.ServeMux {
	m := http.NewServeMux()
	const (
		identity = "/portal/subscriptions/{sub}/resourceGroups/{rg}/identities/{name}"
		cluster  = "/portal/subscriptions/{sub}/resourceGroups/{rg}/clusters/{name}"
		fic      = identity + "/federated-credentials/{fic}"
	)
	m.HandleFunc("/portal/", h.notFound)
	m.HandleFunc("GET /portal", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
	})
	m.HandleFunc("GET /portal/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/portal/identities", http.StatusSeeOther)
	})
	m.HandleFunc("GET /portal/static/{file}", h.serveAsset)

	m.HandleFunc(SignInLinksPath, h.createSignInLink)
	m.HandleFunc("GET "+SignInPath, h.signInPage)
	m.HandleFunc("POST "+SignInPath, h.signIn)
	m.HandleFunc("GET /portal/signed-out", h.signedOutPage)
	m.Handle("POST /portal/sign-out", h.signedIn(h.signOut))

	m.Handle("GET /portal/identities", h.signedIn(h.listIdentities))
	m.Handle("GET /portal/identities/new", h.signedIn(h.newIdentity))
	m.Handle("POST /portal/identities/new", h.signedIn(h.createIdentity))
	m.Handle("GET "+identity, h.signedIn(h.identityOverview))
	m.Handle("GET "+identity+"/delete", h.signedIn(h.confirmDeleteIdentity))
	m.Handle("POST "+identity+"/delete", h.signedIn(h.deleteIdentity))
	m.Handle("GET "+identity+"/role-assignments", h.signedIn(h.roleAssignments))
	m.Handle("GET "+identity+"/audit", h.signedIn(h.identityAudit))

	m.Handle("GET "+identity+"/federated-credentials", h.signedIn(h.listCredentials))
	m.Handle("GET "+identity+"/federated-credentials/new", h.signedIn(h.newCredential))
	m.Handle("POST "+identity+"/federated-credentials/new", h.signedIn(h.saveCredential))
	m.Handle("GET "+fic+"/edit", h.signedIn(h.editCredential))
	m.Handle("POST "+fic+"/edit", h.signedIn(h.saveCredential))
	m.Handle("GET "+fic+"/delete", h.signedIn(h.confirmDeleteCredential))
	m.Handle("POST "+fic+"/delete", h.signedIn(h.deleteCredential))

	m.Handle("GET /portal/clusters", h.signedIn(h.listClusters))
	m.Handle("GET "+cluster, h.signedIn(h.clusterDetail))
	m.Handle("POST "+cluster+"/enable-issuer", h.signedIn(h.enableIssuer))
	m.Handle("POST "+cluster+"/rotate-keys", h.signedIn(h.rotateKeys))
	m.Handle("GET "+cluster+"/issuer", h.signedIn(h.checkIssuer))

	m.Handle("GET /portal/try-it", h.signedIn(h.tryItForm))
	m.Handle("POST /portal/try-it", h.signedIn(h.tryIt))
	return m
}

// setSecurityHeaders sets the headers every portal response carries.
func setSecurityHeaders(hdr http.Header) {
	hdr.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
	hdr.Set("Cross-Origin-Resource-Policy", "same-origin")
}
