package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/fedcred/fedcred/internal/rbac"
	"github.com/fedcred/fedcred/internal/store"
)

// PathPrefix is the path under which the handler serves.
const PathPrefix = "/v1.0/"

// Actions a caller must be allowed, at the scope of a subscription of its
// tenant, to manage (write) or read the tenant's applications.
const (
	ActionWrite = "Microsoft.Graph/applications/write"
	ActionRead  = "Microsoft.Graph/applications/read"
)

// Resource is Microsoft Graph's token audience.
const Resource = "https://graph.microsoft.com"

// Audiences are the token audiences the handler accepts: Microsoft Graph's
// and the server's own URL, each with and without a trailing slash.
func Audiences(publicURL string) []string {
	base := strings.TrimRight(publicURL, "/")
	return []string{Resource, Resource + "/", base, base + "/"}
}

// Caller is the authenticated principal of a request.
type Caller struct {
	// ObjectID is the principal's object ID (a managed identity's
	// principalId or a service principal's object ID).
	ObjectID string
	// ClientID is the application (client) ID the token was issued to.
	ClientID string
	// TenantID is the tenant the token was issued in; the caller sees and
	// manages that tenant's objects only.
	TenantID string
}

// Authorizer decides role-based access; rbac.Authorizer implements it.
type Authorizer interface {
	Decide(ctx context.Context, req rbac.Request) (rbac.Decision, error)
}

// Config configures a Handler.
type Config struct {
	// Store holds applications, assignments and the principals they name.
	// Required.
	Store store.Store
	// Authenticate identifies the caller from its bearer token (issued for
	// one of Audiences). It returns an error wrapping ErrUnauthenticated
	// when the token is missing or invalid; any other error is answered as
	// an internal failure. Required.
	Authenticate func(r *http.Request) (Caller, error)
	// Authorizer decides whether the caller may read or write the tenant's
	// applications. Required.
	Authorizer Authorizer
	// PublicURL is the server's external base URL, for @odata.context and
	// nextLink. Required.
	PublicURL string
	// ReservedIdentifierURIs are resources the token service resolves before
	// any application (its built-in resources and management audiences);
	// no application may claim them.
	ReservedIdentifierURIs []string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives failures; nil discards them.
	Logger *slog.Logger
	// NewUUID generates object, application and role IDs; nil means
	// uuid.NewString.
	NewUUID func() string
}

// Handler serves the Graph subset. It is safe for concurrent use.
type Handler struct {
	cfg       Config
	publicURL string
	now       func() time.Time
	log       *slog.Logger
	newUUID   func() string
}

// maxBodyBytes bounds every request body.
const maxBodyBytes = 256 << 10

// New checks cfg and returns a Handler.
func New(cfg Config) (*Handler, error) {
	var errs []error
	if cfg.Store == nil {
		errs = append(errs, errors.New("store is required"))
	}
	if cfg.Authenticate == nil {
		errs = append(errs, errors.New("authenticate func is required"))
	}
	if cfg.Authorizer == nil {
		errs = append(errs, errors.New("authorizer is required"))
	}
	publicURL := strings.TrimRight(cfg.PublicURL, "/")
	if u, err := url.Parse(publicURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		errs = append(errs, fmt.Errorf("public url %q must be an absolute http(s) url without query or fragment", cfg.PublicURL))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("graph config: %w", err)
	}
	h := &Handler{cfg: cfg, publicURL: publicURL, now: cfg.Now, log: cfg.Logger, newUUID: cfg.NewUUID}
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

// Route returns a handler that serves PathPrefix with h and everything else
// with next.
func (h *Handler) Route(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, PathPrefix) {
			h.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// request is one call after authentication, routing and authorization.
type request struct {
	http   *http.Request
	rt     route
	caller Caller
	query  url.Values
}

// response is a successful answer; a nil body sends none.
type response struct {
	status int
	body   any
}

// ServeHTTP serves PathPrefix.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := h.newUUID()
	clientRequestID := r.Header.Get("client-request-id")
	if clientRequestID == "" || len(clientRequestID) > 128 || strings.ContainsFunc(clientRequestID, isControlOrSpace) {
		clientRequestID = requestID
	}
	w.Header().Set("request-id", requestID)
	w.Header().Set("client-request-id", clientRequestID)
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)

	resp, err := h.serve(r)
	if err != nil {
		h.writeError(w, r, err, requestID, clientRequestID)
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	if resp.body == nil {
		w.WriteHeader(resp.status)
		return
	}
	writeJSON(w, resp.status, resp.body)
}

func isControlOrSpace(r rune) bool { return r <= ' ' || r == 0x7f }

// serve is the pipeline every call goes through: authenticate, route,
// check the method, authorize, dispatch.
func (h *Handler) serve(r *http.Request) (response, error) {
	caller, err := h.cfg.Authenticate(r)
	if err != nil {
		if errors.Is(err, ErrUnauthenticated) {
			return response{}, unauthenticated(r, err)
		}
		return response{}, fmt.Errorf("authenticate: %w", err)
	}
	rt, err := parseRoute(strings.TrimPrefix(r.URL.Path, PathPrefix))
	if err != nil {
		return response{}, err
	}
	if !rt.allows(r.Method) {
		return response{}, errMethod()
	}
	if err := h.authorize(r.Context(), caller, r.Method != http.MethodGet && r.Method != http.MethodHead); err != nil {
		return response{}, err
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return response{}, &apiError{status: http.StatusBadRequest, code: codeSegmentBadRequest, message: "The query string is malformed."}
	}
	return h.dispatch(r.Context(), &request{http: r, rt: rt, caller: caller, query: q})
}

// authorize allows the caller if role-based access control grants it the
// read or write action at the scope of some subscription of its tenant.
func (h *Handler) authorize(ctx context.Context, c Caller, write bool) error {
	if c.ObjectID == "" || c.TenantID == "" {
		return errDenied()
	}
	action := ActionRead
	if write {
		action = ActionWrite
	}
	var subs []store.Subscription
	err := h.cfg.Store.View(ctx, func(tx store.Tx) error {
		all, err := store.List[store.Subscription](ctx, tx, "", "", 0)
		for _, s := range all {
			if strings.EqualFold(s.TenantID, c.TenantID) {
				subs = append(subs, s)
			}
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("list subscriptions: %w", err)
	}
	for _, s := range subs {
		d, err := h.cfg.Authorizer.Decide(ctx, rbac.Request{PrincipalID: c.ObjectID, Action: action, Scope: s.ResourceID()})
		if err != nil {
			return fmt.Errorf("authorize %s on %s: %w", action, s.ResourceID(), err)
		}
		if d.Allowed {
			return nil
		}
	}
	return errDenied()
}

func (h *Handler) dispatch(ctx context.Context, req *request) (response, error) {
	switch req.rt.kind {
	case routeApplications:
		if req.http.Method == http.MethodPost {
			return h.createApplication(ctx, req)
		}
		return h.listApplications(ctx, req)
	case routeApplication:
		switch req.http.Method {
		case http.MethodPatch:
			return h.updateApplication(ctx, req)
		case http.MethodDelete:
			return h.deleteApplication(ctx, req)
		}
		return h.getApplication(ctx, req)
	case routeServicePrincipals:
		return h.listServicePrincipals(ctx, req)
	case routeServicePrincipal:
		return h.getServicePrincipal(ctx, req)
	case routeAssignments:
		if req.http.Method == http.MethodPost {
			return h.createAssignment(ctx, req)
		}
		return h.listAssignments(ctx, req)
	default: // routeAssignment
		if req.http.Method == http.MethodDelete {
			return h.deleteAssignment(ctx, req)
		}
		return h.getAssignment(ctx, req)
	}
}

// writeError writes err as Graph's error JSON: the one place errors become
// responses.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error, requestID, clientRequestID string) {
	ae := internal(err)
	level := slog.LevelInfo
	if ae.status >= 500 {
		level = slog.LevelError
	}
	attrs := []any{"method", r.Method, "path", clip(r.URL.Path), "status", ae.status, "code", ae.code, "request_id", requestID}
	if ae.cause != nil {
		attrs = append(attrs, "err", ae.cause)
	}
	h.log.Log(r.Context(), level, "graph request refused", attrs...)
	for k, vs := range ae.header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	writeJSON(w, ae.status, errorBody{Error: errorDetail{
		Code: ae.code, Message: ae.message,
		InnerError: innerError{Date: h.now().UTC().Format("2006-01-02T15:04:05"), RequestID: requestID, ClientRequestID: clientRequestID},
	}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
	w.Header().Set("OData-Version", "4.0")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// context is the @odata.context of a response.
func (h *Handler) context(fragment string) string {
	return h.publicURL + "/v1.0/$metadata#" + fragment
}
