package sts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"

	"github.com/fedcred/fedcred/internal/store"
)

// Signer signs access tokens with a key ring's active key and publishes the
// ring's keys; *keys.Manager implements it.
type Signer interface {
	// SignJWT signs claims as a compact JWS with owner's active key; header
	// holds extra header fields.
	SignJWT(ctx context.Context, owner string, claims any, header map[jose.HeaderKey]any) (string, error)
	// PublicKeys returns owner's published keys.
	PublicKeys(ctx context.Context, owner string) (jose.JSONWebKeySet, error)
}

// AssertionKeys returns the verification keys of an assertion's issuer, as
// trusted by tenant; kid is the assertion's key ID ("" when none), so a
// source that caches remote keys can refetch on an unknown one. It returns
// an error wrapping issuer.ErrUnknownIssuer for an issuer it neither hosts
// nor knows, remoteissuer.ErrBadKeys for keys that do not parse, and
// remoteissuer.ErrUnreachable or ErrBadDiscovery when a remote issuer
// cannot be used.
type AssertionKeys interface {
	KeysFor(ctx context.Context, tenantID, issuerURL, kid string) (jose.JSONWebKeySet, error)
}

// Auditor records token events in the audit log; *audit.Log implements it.
// Enqueue must return at once, whatever happens to the event.
type Auditor interface {
	Enqueue(e store.AuditEvent)
}

// Default token lifetimes.
const (
	// DefaultIdentityTokenLifetime is how long a managed identity's token
	// lasts: 24 h, like Entra's managed-identity tokens.
	DefaultIdentityTokenLifetime = 24 * time.Hour
	// DefaultAppTokenLifetime is how long a service principal's token lasts.
	DefaultAppTokenLifetime = time.Hour
)

// Request bounds.
const (
	maxFormBytes      = 64 << 10 // the whole token request body
	maxAssertionBytes = 16 << 10 // client_assertion
	maxSecretBytes    = 1 << 10  // client_secret
)

// Config configures a Handler.
type Config struct {
	// Store holds tenants, identities, service principals and FICs. Required.
	Store store.Store
	// Keys signs access tokens with the tenant's key ring. Required.
	Keys Signer
	// Issuers supplies assertion issuers' keys. Required.
	Issuers AssertionKeys
	// PublicURL is the server's external base URL (scheme, host, optional
	// port and path), from which issuers and endpoints are built. Required.
	PublicURL string
	// Now is the clock; defaults to time.Now.
	Now func() time.Time
	// Logger receives one line per refusal and per issued token; defaults to
	// a logger that discards.
	Logger *slog.Logger
	// Resources optionally reports further registered resources. The
	// built-in resources and ManagementAudiences always count.
	Resources func(resource string) bool
	// ManagementAudiences are the resources that mean this server's
	// management API. Defaults to PublicURL and the Azure management
	// audiences, each with and without a trailing slash.
	ManagementAudiences []string
	// IdentityTokenLifetime defaults to DefaultIdentityTokenLifetime.
	IdentityTokenLifetime time.Duration
	// AppTokenLifetime defaults to DefaultAppTokenLifetime.
	AppTokenLifetime time.Duration
	// Audit receives one event per token issued and per token request
	// refused (see audit.go); nil records none.
	Audit Auditor
	// Metrics counts token requests by outcome and measures their latency
	// (see metrics.go); nil records none.
	Metrics Metrics
}

// Handler serves the STS: token endpoints, tenant metadata and keys, and
// instance discovery.
type Handler struct {
	store     store.Store
	keys      Signer
	issuers   AssertionKeys
	publicURL string // no trailing slash
	host      string // publicURL's host[:port]
	now       func() time.Time
	log       *slog.Logger
	resources func(string) bool
	mgmt      []string
	idLife    time.Duration
	appLife   time.Duration
	audit     Auditor
	metrics   Metrics
}

// New returns a Handler, or an error if cfg lacks a required field.
func New(cfg Config) (*Handler, error) {
	if cfg.Store == nil || cfg.Keys == nil || cfg.Issuers == nil {
		return nil, errors.New("sts: store, keys and issuers are required")
	}
	u, err := url.Parse(cfg.PublicURL)
	if err != nil {
		return nil, fmt.Errorf("sts: parse public url: %w", err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("sts: public url %q must be an absolute http(s) URL without query or fragment", cfg.PublicURL)
	}
	h := &Handler{
		store:     cfg.Store,
		keys:      cfg.Keys,
		issuers:   cfg.Issuers,
		publicURL: strings.TrimRight(cfg.PublicURL, "/"),
		host:      u.Host,
		now:       cfg.Now,
		log:       cfg.Logger,
		resources: cfg.Resources,
		mgmt:      cfg.ManagementAudiences,
		idLife:    cfg.IdentityTokenLifetime,
		appLife:   cfg.AppTokenLifetime,
		audit:     cfg.Audit,
		metrics:   cfg.Metrics,
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if len(h.mgmt) == 0 {
		h.mgmt = []string{h.publicURL, "https://management.core.windows.net", "https://management.azure.com"}
	}
	if h.idLife <= 0 {
		h.idLife = DefaultIdentityTokenLifetime
	}
	if h.appLife <= 0 {
		h.appLife = DefaultAppTokenLifetime
	}
	return h, nil
}

// Mount registers every STS route on mux (Go 1.22+ patterns).
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", h.token(v2))
	mux.HandleFunc("POST /{tenant}/oauth2/token", h.token(v1))
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", h.openIDConfiguration(v2))
	mux.HandleFunc("GET /{tenant}/.well-known/openid-configuration", h.openIDConfiguration(v1))
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", h.jwks(v2))
	mux.HandleFunc("GET /{tenant}/discovery/keys", h.jwks(v1))
	mux.HandleFunc("GET /common/discovery/instance", h.instanceDiscovery)
	// The AD FS-style authority (adfs.go): MSAL skips instance discovery for it.
	mux.HandleFunc("GET "+ADFSPath+"/.well-known/openid-configuration", h.adfsOpenIDConfiguration)
	mux.HandleFunc("GET "+ADFSPath+"/discovery/keys", h.adfsKeys)
	mux.HandleFunc("POST "+ADFSPath+"/oauth2/token", h.adfsToken)
	mux.HandleFunc("POST "+ADFSPath+"/oauth2/v2.0/token", h.adfsToken)
}

// endpointVersion tells the v1 (ADAL-era) endpoints from the v2 ones.
type endpointVersion int

const (
	v1 endpointVersion = 1
	v2 endpointVersion = 2
)

// correlationID is the caller's client-request-id when it is a UUID (header
// first, then query, then form body), otherwise a new UUID.
func correlationID(r *http.Request) string {
	for _, v := range []string{r.Header.Get("client-request-id"), r.URL.Query().Get("client-request-id"), r.PostForm.Get("client-request-id")} {
		if id, err := uuid.Parse(v); err == nil && len(v) == 36 {
			return id.String()
		}
	}
	return uuid.NewString()
}

// writeError is the one place an STS error response is written.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, e *Error, attrs ...any) {
	traceID := uuid.NewString()
	corr := correlationID(r)
	level := slog.LevelInfo
	if e.Status >= 500 {
		level = slog.LevelError
	}
	args := append([]any{"path", r.URL.Path, "status", e.Status, "error", e.OAuth, "code", e.Code,
		"trace_id", traceID, "correlation_id", corr}, attrs...)
	args = append(args, e.Log...)
	if e.Err != nil {
		args = append(args, "err", e.Err)
	}
	h.log.Log(r.Context(), level, "sts request refused", args...)
	h.auditRefusal(r, e, traceID, corr)
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, e.Status, h.errorBody(e, traceID, corr))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
