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

// Auditor records management changes in the audit log; *audit.Log
// implements it. Write returns once the event is stored or queued; Enqueue
// queues it and returns at once, dropping it when the queue is full.
type Auditor interface {
	Write(ctx context.Context, e store.AuditEvent) error
	Enqueue(e store.AuditEvent)
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
	// Audit receives one event per change (PUT, PATCH, DELETE, POST) that
	// succeeded or was refused with 403 (see Handler.audit); nil records
	// none.
	Audit Auditor
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
	var call auditCall
	resp, err := h.serve(r, &call)
	h.audit(r, &call, resp, err, requestID, correlation)
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
func (h *Handler) serve(r *http.Request, call *auditCall) (response, error) {
	rt, matched := parseRoute(r.URL.EscapedPath())
	if matched && rt.kind == routeMetadata {
		return h.metadataEndpoints(r)
	}
	if matched && rt.kind == routeTrustedIssuerPublish {
		return h.publishKeys(r, rt) // authenticated by its proof token, not by a bearer identity
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
	*call = auditCall{principal: p, access: a, rt: rt, routed: true}
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
	case routeTrustedIssuers, routeTrustedIssuer:
		return h.dispatchTrustedIssuer(ctx, req)
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

// auditCall is what the audit log needs to know of a call; serve fills it in
// once the call is authenticated and routed.
type auditCall struct {
	principal Principal
	access    access
	rt        route
	routed    bool
}

// audit records a change (PUT, PATCH, DELETE or POST) that succeeded or was
// refused with 403 (for publishKeys, 401 too) in the audit log: who, the
// action and the resource ID,
// the outcome, the correlation and request IDs, the source IP and user
// agent; never the request or response body. Reads and calls that failed
// otherwise are not recorded. It runs before the answer is written, so a
// caller that lists the audit log after the answer finds the event.
func (h *Handler) audit(r *http.Request, call *auditCall, resp response, err error, requestID, correlation string) {
	if h.cfg.Audit == nil {
		return
	}
	if !call.routed {
		// publishKeys is served before authentication: its caller proves
		// itself with a token signed by a key the trusted issuer trusts.
		// It is recorded as a key change by the issuer, refusals included.
		rt, ok := parseRoute(r.URL.EscapedPath())
		if !ok || rt.kind != routeTrustedIssuerPublish {
			return
		}
		a, ok := publishKeysAllowed(r.Method, rt)
		if !ok {
			return
		}
		*call = auditCall{principal: Principal{Type: "IssuerProof"}, access: a, rt: rt, routed: true}
	}
	publish := call.rt.kind == routeTrustedIssuerPublish
	var kind string
	switch r.Method {
	case http.MethodPut, http.MethodPatch:
		kind = store.AuditResourceWrite
	case http.MethodDelete:
		kind = store.AuditResourceDelete
	case http.MethodPost:
		kind = store.AuditResourceAction
		switch {
		case call.rt.kind == routeClusterRotate:
			kind = store.AuditKeysRotated
		case publish:
			kind = store.AuditKeysPublished
		}
	default:
		return
	}
	outcome := store.AuditOutcome{Result: store.AuditSuccess, Status: resp.status}
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) || (ae.status != http.StatusForbidden && !(publish && ae.status == http.StatusUnauthorized)) {
			return
		}
		outcome = store.AuditOutcome{Result: store.AuditDenied, Status: ae.status, Code: ae.code}
	}
	target, uerr := url.PathUnescape(call.rt.path)
	if uerr != nil {
		target = call.rt.path
	}
	p := call.principal
	tenant := p.TenantID
	if tenant == "" {
		tenant = h.tenantID
	}
	e := store.AuditEvent{
		Time: h.now(), TenantID: tenant, EventKind: kind,
		Actor:    store.AuditActor{ObjectID: p.ObjectID, ClientID: p.ClientID, Type: p.Type},
		ClientID: p.ClientID, Target: target, SubscriptionID: call.rt.sub, Action: call.access.Action,
		Outcome: outcome, CorrelationID: correlation, RequestID: requestID,
		SourceIP: r.RemoteAddr, UserAgent: r.UserAgent(),
	}
	if publish && err != nil {
		// Anyone can send a refused proof: queue it, as the token service
		// queues its refusals, so a flood cannot hold the handler on writes.
		h.cfg.Audit.Enqueue(e)
		return
	}
	if err := h.cfg.Audit.Write(r.Context(), e); err != nil {
		h.log.Error("audit event lost", "kind", kind, "action", call.access.Action, "err", err)
	}
}
