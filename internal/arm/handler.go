package arm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/fedcred/fedcred/internal/issuer"
	"github.com/fedcred/fedcred/internal/rbac"
	"github.com/fedcred/fedcred/internal/store"
)

// ClusterIssuer is what the management API needs from the cluster OIDC
// issuers.
type ClusterIssuer interface {
	// IssuerURL is the cluster's issuer: "<publicURL>/oidc/<tenant>/<uid>/".
	IssuerURL(c store.Cluster) string
	// PrepareKeys creates the cluster's signing key ring; it is called once,
	// after the cluster is created.
	PrepareKeys(ctx context.Context, c store.Cluster) error
	// RotateKeys rotates the cluster's service-account signing keys.
	RotateKeys(ctx context.Context, c store.Cluster) error
	// MintToken issues a service-account token for namespace/serviceAccount.
	MintToken(ctx context.Context, c store.Cluster, namespace, serviceAccount string, spec issuer.TokenRequestSpec) (token string, expires time.Time, err error)
}

// Authorizer decides role-based access; *rbac.Authorizer and
// rbac.Authorizer satisfy it. An error means no decision could be made; it is
// never taken as an allow.
type Authorizer interface {
	Decide(ctx context.Context, req rbac.Request) (rbac.Decision, error)
}

// Config configures a Handler.
type Config struct {
	// Store holds every resource.
	Store store.Store
	// PublicURL is the server's external base URL, e.g.
	// https://127.0.0.1:8443 (a trailing slash is removed).
	PublicURL string
	// TenantID is the default tenant, named in /metadata/endpoints and in
	// the 401 challenge.
	TenantID string
	// Issuers manages the clusters' OIDC issuers.
	Issuers ClusterIssuer
	// Authorizer decides every request against the role assignments:
	// each caller, service principals included, needs a role that grants
	// the request's action at its scope (see accessFor).
	Authorizer Authorizer
	// Authenticate identifies the caller from its bearer token. It returns
	// an error wrapping ErrUnauthenticated when the token is missing or
	// invalid; any other error is answered as an internal failure.
	Authenticate func(r *http.Request) (Principal, error)
	// EntraLimits enforces Entra's cap of 20 federated identity credentials
	// per identity.
	EntraLimits bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives failures; nil discards them.
	Logger *slog.Logger
	// NewUUID generates client, principal and cluster IDs; nil means
	// uuid.NewString.
	NewUUID func() string
}

// Handler serves the management API. It is safe for concurrent use.
type Handler struct {
	cfg       Config
	publicURL string
	tenantID  string
	now       func() time.Time
	log       *slog.Logger
	newUUID   func() string
}

// maxBodyBytes bounds every request body.
const maxBodyBytes = 64 << 10

// New checks cfg and returns a Handler.
func New(cfg Config) (*Handler, error) {
	var errs []error
	if cfg.Store == nil {
		errs = append(errs, errors.New("store is required"))
	}
	if cfg.Issuers == nil {
		errs = append(errs, errors.New("cluster issuers are required"))
	}
	if cfg.Authenticate == nil {
		errs = append(errs, errors.New("authenticate func is required"))
	}
	if cfg.Authorizer == nil {
		errs = append(errs, errors.New("authorizer is required"))
	}
	if cfg.TenantID == "" {
		errs = append(errs, errors.New("tenant id is required"))
	}
	publicURL := strings.TrimRight(cfg.PublicURL, "/")
	if u, err := url.Parse(publicURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		errs = append(errs, fmt.Errorf("public url %q must be an absolute http(s) url without query or fragment", cfg.PublicURL))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("arm config: %w", err)
	}
	h := &Handler{
		cfg:       cfg,
		publicURL: publicURL,
		tenantID:  cfg.TenantID,
		now:       cfg.Now,
		log:       cfg.Logger,
		newUUID:   cfg.NewUUID,
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.newUUID == nil {
		h.newUUID = uuid.NewString
	}
	return h, nil
}

// request is one API call after authentication and routing.
type request struct {
	http       *http.Request
	rt         route
	principal  Principal
	apiVersion string
	query      url.Values
	// sub is the addressed subscription, for every route below
	// /subscriptions/{id}; it is visible to principal.
	sub store.Subscription
}

// response is a successful answer; a nil body sends none.
type response struct {
	status int
	body   any
}

// ServeHTTP serves /subscriptions, /subscriptions/... and /metadata/endpoints.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := h.newUUID()
	w.Header().Set("x-ms-request-id", requestID)
	correlation := r.Header.Get("x-ms-client-request-id")
	if len(correlation) > 128 || strings.ContainsFunc(correlation, isControlOrSpace) {
		correlation = ""
	}
	if correlation == "" {
		correlation = requestID
	}
	w.Header().Set("x-ms-correlation-request-id", correlation)

	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	resp, err := h.serve(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if resp.body == nil {
		w.WriteHeader(resp.status)
		return
	}
	h.writeJSON(w, r, resp.status, resp.body)
}

// serve is the pipeline every call goes through.
func (h *Handler) serve(r *http.Request) (response, error) {
	rt, matched := parseRoute(r.URL.EscapedPath())
	if matched && rt.kind == routeMetadata {
		return h.metadataEndpoints(r)
	}
	p, err := h.authenticate(r)
	if err != nil {
		return response{}, err
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return response{}, errBadRequest("The query string is malformed.")
	}
	apiVersion := queryValue(q, "api-version")
	if apiVersion == "" {
		return response{}, errMissingAPIVersion()
	}
	if !matched {
		if rt.providerNamespace != "" {
			return response{}, errInvalidResourceType(rt.providerNamespace, rt.providerType, apiVersion)
		}
		return response{}, errNoRoute(rt.path)
	}
	a, ok := accessFor(r.Method, rt)
	if !ok {
		return response{}, errMethodNotAllowed(r.Method, allowedMethods(rt))
	}
	req := &request{http: r, rt: rt, principal: p, apiVersion: apiVersion, query: q}
	// Tenant isolation first: a subscription of another tenant is not found,
	// whatever the caller's roles.
	if rt.sub != "" {
		sub, err := h.subscription(r.Context(), p, rt.sub)
		if err != nil {
			return response{}, err
		}
		req.sub = sub
	}
	// GET /subscriptions is filtered subscription by subscription instead.
	if rt.kind != routeSubscriptions {
		if err := h.authorize(r.Context(), p, a); err != nil {
			return response{}, err
		}
	}
	return h.dispatch(r.Context(), req)
}

// subscription reads the subscription id, answering 404 both when it does not
// exist and when it belongs to another tenant than p's.
func (h *Handler) subscription(ctx context.Context, p Principal, id string) (store.Subscription, error) {
	var sub store.Subscription
	err := h.cfg.Store.View(ctx, func(tx store.Tx) error {
		var err error
		sub, err = store.Get[store.Subscription](ctx, tx, store.SubscriptionKey(id))
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return sub, errSubscriptionNotFound(id)
	case err != nil:
		return sub, fmt.Errorf("read subscription: %w", err)
	case !visible(p, sub):
		return sub, errSubscriptionNotFound(id)
	}
	return sub, nil
}

// dispatch runs the handler for the route and method; accessFor has already
// accepted the pair.
func (h *Handler) dispatch(ctx context.Context, req *request) (response, error) {
	m := req.http.Method
	switch req.rt.kind {
	case routeSubscriptions:
		return h.listSubscriptions(ctx, req)
	case routeSubscription:
		return h.getSubscription(ctx, req)
	case routeResourceGroups:
		return h.listResourceGroups(ctx, req)
	case routeResourceGroup:
		switch m {
		case http.MethodGet, http.MethodHead:
			return h.getResourceGroup(ctx, req)
		case http.MethodPut:
			return h.putResourceGroup(ctx, req)
		case http.MethodPatch:
			return h.patchResourceGroup(ctx, req)
		case http.MethodDelete:
			return h.deleteResourceGroup(ctx, req)
		}
	case routeIdentities:
		return h.listIdentities(ctx, req)
	case routeIdentity:
		switch m {
		case http.MethodGet:
			return h.getIdentity(ctx, req)
		case http.MethodPut:
			return h.putIdentity(ctx, req)
		case http.MethodPatch:
			return h.patchIdentity(ctx, req)
		case http.MethodDelete:
			return h.deleteIdentity(ctx, req)
		}
	case routeCredentials:
		return h.listCredentials(ctx, req)
	case routeCredential:
		switch m {
		case http.MethodGet:
			return h.getCredential(ctx, req)
		case http.MethodPut:
			return h.putCredential(ctx, req)
		case http.MethodDelete:
			return h.deleteCredential(ctx, req)
		}
	case routeClusters:
		return h.listClusters(ctx, req)
	case routeCluster:
		switch m {
		case http.MethodGet:
			return h.getCluster(ctx, req)
		case http.MethodPut:
			return h.putCluster(ctx, req)
		case http.MethodDelete:
			return h.deleteCluster(ctx, req)
		}
	case routeClusterRotate:
		return h.rotateClusterKeys(ctx, req)
	case routeClusterToken:
		return h.serviceAccountToken(ctx, req)
	case routeVaults:
		return h.listVaults(ctx, req)
	case routeVault:
		switch m {
		case http.MethodGet:
			return h.getVault(ctx, req)
		case http.MethodPut:
			return h.putVault(ctx, req)
		case http.MethodDelete:
			return h.deleteVault(ctx, req)
		}
	case routeRoleDefinitions:
		return h.listRoleDefinitions(ctx, req)
	case routeRoleDefinition:
		return h.getRoleDefinition(ctx, req)
	case routeRoleAssignments:
		return h.listRoleAssignments(ctx, req)
	case routeRoleAssignment:
		switch m {
		case http.MethodGet:
			return h.getRoleAssignment(ctx, req)
		case http.MethodPut:
			return h.putRoleAssignment(ctx, req)
		case http.MethodDelete:
			return h.deleteRoleAssignment(ctx, req)
		}
	}
	return response{}, errMethodNotAllowed(m, allowedMethods(req.rt))
}

// queryValue reads a query parameter whose name matches case-insensitively
// (clients send both $skiptoken and $skipToken).
func queryValue(q url.Values, name string) string {
	if v := q.Get(name); v != "" {
		return v
	}
	for k, vs := range q {
		if strings.EqualFold(k, name) && len(vs) > 0 && vs[0] != "" {
			return vs[0]
		}
	}
	return ""
}
