package vault

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/fedcred/fedcred/internal/keys"
	"github.com/fedcred/fedcred/internal/rbac"
	"github.com/fedcred/fedcred/internal/store"
)

// Resource is the audience of Key Vault access tokens, as the challenge
// names it. Tokens for it may carry the audience with or without a trailing
// slash.
const Resource = "https://vault.azure.net"

// ErrUnauthenticated is what Config.Authenticate wraps when a bearer token is
// invalid (expired, wrong audience or issuer, bad signature).
var ErrUnauthenticated = errors.New("unauthenticated")

// Caller is the authenticated principal of a request.
type Caller struct {
	// ObjectID is the principal's object ID (the token's oid).
	ObjectID string
	// TenantID is the tenant that issued the token (tid).
	TenantID string
	// AppID is the client's application ID (appid or azp).
	AppID string
}

// Authorizer decides data actions; rbac.Authorizer is one.
type Authorizer interface {
	Decide(ctx context.Context, req rbac.Request) (rbac.Decision, error)
}

// Config configures a Handler.
type Config struct {
	// Store holds the vaults and their secrets.
	Store store.Store
	// Sealer seals secret values at rest.
	Sealer *keys.Sealer
	// Authorizer decides the data actions of authenticated callers.
	Authorizer Authorizer
	// Authenticate validates a bearer token issued by the server's STS for
	// the Key Vault audience and returns its caller. It returns an error
	// wrapping ErrUnauthenticated when the token is invalid; any other error
	// is answered as a failure of the server (503 when it wraps
	// store.ErrUnavailable, else 500).
	Authenticate func(ctx context.Context, bearer string) (Caller, error)
	// PublicURL is the server's external base URL, e.g.
	// https://127.0.0.1:8443 (a trailing slash is removed). Vault URIs and
	// the challenge's authority are built from it.
	PublicURL string
	// TenantID is the tenant the challenge names when no vault has the
	// requested name.
	TenantID string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives failures; nil discards them.
	Logger *slog.Logger
	// NewVersion returns a new secret version ID (32 lower-case hex digits);
	// nil means a random one.
	NewVersion func() string
}

// Handler serves the Key Vault data plane. It is safe for concurrent use.
type Handler struct {
	store        store.Store
	sealer       *keys.Sealer
	authz        Authorizer
	authenticate func(ctx context.Context, bearer string) (Caller, error)
	publicURL    string
	tenantID     string
	now          func() time.Time
	log          *slog.Logger
	newVersion   func() string
	scanBatch    int // how many secret versions a list reads at a time
}

// New checks cfg and returns a Handler.
func New(cfg Config) (*Handler, error) {
	var errs []error
	if cfg.Store == nil {
		errs = append(errs, errors.New("store is required"))
	}
	if cfg.Sealer == nil {
		errs = append(errs, errors.New("sealer is required"))
	}
	if cfg.Authorizer == nil {
		errs = append(errs, errors.New("authorizer is required"))
	}
	if cfg.Authenticate == nil {
		errs = append(errs, errors.New("authenticate is required"))
	}
	if cfg.TenantID == "" {
		errs = append(errs, errors.New("tenant ID is required"))
	}
	publicURL := strings.TrimSuffix(cfg.PublicURL, "/")
	if u, err := url.Parse(publicURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" {
		errs = append(errs, fmt.Errorf("public URL %q is not an absolute http(s) URL", cfg.PublicURL))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("vault config: %w", err)
	}
	h := &Handler{
		store:        cfg.Store,
		sealer:       cfg.Sealer,
		authz:        cfg.Authorizer,
		authenticate: cfg.Authenticate,
		publicURL:    publicURL,
		tenantID:     cfg.TenantID,
		now:          cfg.Now,
		log:          cfg.Logger,
		newVersion:   cfg.NewVersion,
		scanBatch:    defaultScanBatch,
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.newVersion == nil {
		h.newVersion = randomVersion
	}
	return h, nil
}

// randomVersion returns 32 random lower-case hex digits.
func randomVersion() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// PathPrefix is where the data plane is served: <PublicURL>/vaults/<name>/.
const PathPrefix = "/vaults/"

// Mount registers the data plane on mux, under PathPrefix.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.Handle(PathPrefix, h)
}

// VaultURI is a vault's data-plane URL, the vaultUri the management API
// reports: <PublicURL>/vaults/<name>/.
func VaultURI(publicURL, vaultName string) string {
	return strings.TrimSuffix(publicURL, "/") + PathPrefix + vaultName + "/"
}

// maxBodyBytes bounds every request body.
const maxBodyBytes = 64 << 10

// serviceVersion is sent as x-ms-keyvault-service-version.
const serviceVersion = "1.9.0.0"

// call is one request on its way through the pipeline.
type call struct {
	op      *operation
	vault   store.Vault
	caller  Caller
	name    string // secret name from the path, "" for vault-wide operations
	version string // secret version from the path, "" for the latest
	base    string // https://<host>/ when the vault was named by its host, else ""
}

// HostSuffix is the DNS suffix of Azure's public vault hosts. A request
// whose Host is <name>.vault.azure.net (routed to fedcred by `fedcred run
// --emulate-login-host` or a hosts entry) addresses vault <name> at the root
// of the host, as Key Vault does; the Azure SDKs' challenge-resource check
// then passes unchanged, and the IDs in its answers name that host.
const HostSuffix = ".vault.azure.net"

// HostVault returns the vault a request's Host names: the first label of
// <name>.vault.azure.net[:port], compared case-insensitively.
func HostVault(host string) (string, bool) {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	name, ok := strings.CutSuffix(host, HostSuffix)
	if !ok || name == "" || strings.Contains(name, ".") || len(name) > maxVaultNameLen {
		return "", false
	}
	return name, true
}

// ServeHTTP serves the data plane; requests outside PathPrefix (or, by
// host, outside <name>.vault.azure.net) get 404.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("x-ms-request-id", uuid.NewString())
	w.Header().Set("x-ms-keyvault-service-version", serviceVersion)
	w.Header().Set("Cache-Control", "no-cache")
	if err := h.serve(w, r); err != nil {
		h.writeError(w, r, err)
	}
}

// serve is the pipeline every request passes.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request) error {
	path, base := r.URL.Path, ""
	if name, ok := HostVault(r.Host); ok {
		path, base = PathPrefix+name+"/"+strings.TrimPrefix(r.URL.Path, "/"), "https://"+strings.ToLower(r.Host)+"/"
	}
	vaultName, c, err := route(r, path)
	if err != nil {
		return err
	}
	c.base = base
	if r.URL.Query().Get("api-version") == "" {
		return errBadParameter("The 'api-version' query parameter is missing.")
	}
	ctx := r.Context()
	var found bool
	err = h.store.View(ctx, func(tx store.Tx) error {
		v, err := store.GetByAlt[store.Vault](ctx, tx, strings.ToLower(vaultName))
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		c.vault, found = v, err == nil
		return err
	})
	if err != nil {
		return fmt.Errorf("read vault: %w", err)
	}
	challengeTenant := h.tenantID
	if found {
		challengeTenant = c.vault.TenantID
	}
	if c.caller, err = h.authenticateRequest(r, challengeTenant); err != nil {
		return err
	}
	if !found {
		return errVaultNotFound(vaultName)
	}
	if !strings.EqualFold(c.caller.TenantID, c.vault.TenantID) {
		return errUnauthorized(challengeTenant, h.publicURL, fmt.Sprintf(
			"AKV10032: Invalid issuer. Expected one of %s/%s/, found %s/%s/.",
			h.publicURL, c.vault.TenantID, h.publicURL, clip(c.caller.TenantID)), nil)
	}
	if err := h.authorize(ctx, c); err != nil {
		return err
	}
	return c.op.serve(h, w, r, c)
}

// authenticateRequest reads the bearer token and authenticates it; a
// missing or invalid token is answered 401 with the challenge for tenant.
func (h *Handler) authenticateRequest(r *http.Request, tenant string) (Caller, error) {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return Caller{}, errUnauthorized(tenant, h.publicURL, "AKV10000: Request is missing a Bearer or PoP token.", nil)
	}
	caller, err := h.authenticate(r.Context(), token)
	if errors.Is(err, ErrUnauthenticated) {
		detail := strings.TrimPrefix(err.Error(), ErrUnauthenticated.Error()+": ")
		return Caller{}, errUnauthorized(tenant, h.publicURL, "AKV10022: Invalid bearer token: "+clip(detail)+".", err)
	}
	if err != nil {
		return Caller{}, fmt.Errorf("authenticate: %w", err)
	}
	if caller.ObjectID == "" || caller.TenantID == "" {
		return Caller{}, errUnauthorized(tenant, h.publicURL, "AKV10022: Invalid bearer token: the token names no principal or tenant.", nil)
	}
	return caller, nil
}

// authorize asks the Authorizer for the operation's data action.
func (h *Handler) authorize(ctx context.Context, c *call) error {
	scope := c.vault.ResourceID()
	if c.name != "" {
		scope += "/secrets/" + c.name
	}
	d, err := h.authz.Decide(ctx, rbac.Request{PrincipalID: c.caller.ObjectID, Action: c.op.action, Data: true, Scope: scope})
	if err != nil {
		return fmt.Errorf("authorize %s: %w", c.op.action, err)
	}
	if !d.Allowed {
		return errForbiddenByRBAC(h.publicURL, c.caller, c.op.action, scope, c.vault)
	}
	return nil
}
