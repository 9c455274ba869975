package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/fedcred/fedcred/internal/rbac"
	"github.com/fedcred/fedcred/internal/store"
)

// ReadAction is the RBAC action that lets a caller read a subscription's
// audit events.
const ReadAction = "Fedcred/auditEvents/read"

// Path is the route of the audit API, a Go ServeMux pattern.
const Path = "/{tenant}/fedcred/auditEvents"

// Paging and scanning bounds.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
	// maxScan bounds the events one request examines.
	maxScan   = 5000
	scanChunk = 256
	// maxParamBytes bounds each filter value.
	maxParamBytes = 1024
	maxKinds      = 16
)

// ErrUnauthenticated is what HandlerConfig.Authenticate wraps when a
// request has no valid bearer token.
var ErrUnauthenticated = errors.New("unauthenticated")

// Caller is the authenticated principal reading the log.
type Caller struct {
	ObjectID string
	ClientID string
	TenantID string
}

// Authorizer decides role-based access; rbac.Authorizer satisfies it. An
// error is never taken as an allow.
type Authorizer interface {
	Decide(ctx context.Context, req rbac.Request) (rbac.Decision, error)
}

// HandlerConfig configures a Handler.
type HandlerConfig struct {
	// Store holds the events and the subscriptions. Required.
	Store store.Store
	// Authorizer decides ReadAction per subscription. Required.
	Authorizer Authorizer
	// Authenticate identifies the caller from its bearer token; an error
	// wrapping ErrUnauthenticated is answered 401. Required.
	Authenticate func(r *http.Request) (Caller, error)
	// PublicURL is the server's external base URL, for nextLink and the
	// 401 challenge. Required.
	PublicURL string
	// Logger receives failures; nil discards.
	Logger *slog.Logger
}

// Handler serves GET Path.
type Handler struct {
	cfg       HandlerConfig
	publicURL string
	log       *slog.Logger
}

// NewHandler checks cfg and returns a Handler.
func NewHandler(cfg HandlerConfig) (*Handler, error) {
	var errs []error
	if cfg.Store == nil {
		errs = append(errs, errors.New("store is required"))
	}
	if cfg.Authorizer == nil {
		errs = append(errs, errors.New("authorizer is required"))
	}
	if cfg.Authenticate == nil {
		errs = append(errs, errors.New("authenticate func is required"))
	}
	u, err := url.Parse(cfg.PublicURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		errs = append(errs, fmt.Errorf("public url %q must be an absolute http(s) url without query or fragment", cfg.PublicURL))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("audit handler config: %w", err)
	}
	h := &Handler{cfg: cfg, publicURL: strings.TrimRight(cfg.PublicURL, "/"), log: cfg.Logger}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h, nil
}

// Mount registers the API on mux.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.Handle("GET "+Path, h)
}

// apiError is an error answer in ARM's CloudError shape.
type apiError struct {
	status  int
	code    string
	message string
	header  http.Header
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

// page is the answer: ARM's list shape.
type page struct {
	Value    []store.AuditEvent `json:"value"`
	NextLink string             `json:"nextLink,omitempty"`
}

// ServeHTTP answers one page of a tenant's events.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, err := h.serve(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (h *Handler) serve(r *http.Request) (page, error) {
	raw := r.PathValue("tenant")
	id, err := uuid.Parse(raw)
	if err != nil || len(raw) != 36 {
		return page{}, &apiError{status: http.StatusBadRequest, code: "InvalidTenantId",
			message: fmt.Sprintf("'%s' is not a tenant ID.", clean(raw, 64))}
	}
	tenant := id.String()
	caller, err := h.cfg.Authenticate(r)
	if errors.Is(err, ErrUnauthenticated) {
		return page{}, h.unauthenticated(r, tenant)
	}
	if err != nil {
		return page{}, fmt.Errorf("authenticate: %w", err)
	}
	q, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		return page{}, err
	}
	vis, err := h.visibility(r.Context(), caller, tenant)
	if err != nil {
		return page{}, err
	}
	events, next, err := h.scan(r.Context(), tenant, q, vis)
	if err != nil {
		return page{}, err
	}
	out := page{Value: events}
	if next != "" {
		out.NextLink = h.nextLink(tenant, r.URL.Query(), next)
	}
	return out, nil
}

// visibility is what a caller may read: the events of the subscriptions in
// subs, and tenant-level events when all is set.
type visibility struct {
	subs map[string]bool // lower-cased subscription IDs
	all  bool
}

func (v visibility) sees(e store.AuditEvent) bool {
	if v.all {
		return true
	}
	return e.SubscriptionID != "" && v.subs[strings.ToLower(e.SubscriptionID)]
}

// visibility decides ReadAction on each subscription of tenant; a caller of
// another tenant, or one without the action anywhere, is refused (403, the
// same answer for a tenant that does not exist).
func (h *Handler) visibility(ctx context.Context, c Caller, tenant string) (visibility, error) {
	var subs []store.Subscription
	if strings.EqualFold(c.TenantID, tenant) && c.ObjectID != "" {
		err := h.cfg.Store.View(ctx, func(tx store.Tx) error {
			var err error
			subs, err = store.List[store.Subscription](ctx, tx, store.SubscriptionKey(""), "", 0)
			return err
		})
		if err != nil {
			return visibility{}, fmt.Errorf("list subscriptions: %w", err)
		}
	}
	v := visibility{subs: map[string]bool{}}
	inTenant := 0
	for _, s := range subs {
		if !strings.EqualFold(s.TenantID, tenant) {
			continue
		}
		inTenant++
		d, err := h.cfg.Authorizer.Decide(ctx, rbac.Request{PrincipalID: c.ObjectID, Action: ReadAction, Scope: s.ResourceID()})
		if err != nil {
			return visibility{}, fmt.Errorf("authorize %s on %s: %w", ReadAction, s.ResourceID(), err)
		}
		if d.Allowed {
			v.subs[strings.ToLower(s.ID)] = true
		}
	}
	if len(v.subs) == 0 {
		return visibility{}, &apiError{status: http.StatusForbidden, code: "AuthorizationFailed",
			message: fmt.Sprintf("The client '%s' with object id '%s' does not have authorization to perform action '%s' "+
				"over any subscription of tenant '%s'.", clean(c.ClientID, maxField), clean(c.ObjectID, maxField), ReadAction, tenant)}
	}
	v.all = len(v.subs) == inTenant
	return v, nil
}

// query is a parsed request.
type query struct {
	since, until time.Time
	kinds        []string
	actor        string
	clientID     string
	target       string
	outcome      string
	top          int
	skip         string // an event ID
}

// parseQuery reads the filters; names are case-insensitive, each given at
// most once.
func parseQuery(raw string) (query, error) {
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return query{}, badQuery("The query string is malformed.")
	}
	q := query{top: DefaultPageSize}
	seen := map[string]bool{}
	for name, vs := range vals {
		key := strings.ToLower(name)
		if seen[key] || len(vs) > 1 {
			return query{}, badQuery(fmt.Sprintf("The parameter '%s' is given more than once.", clean(name, 64)))
		}
		seen[key] = true
		v := vs[0]
		if len(v) > maxParamBytes {
			return query{}, badQuery(fmt.Sprintf("The parameter '%s' is longer than %d bytes.", clean(name, 64), maxParamBytes))
		}
		switch key {
		case "since", "until":
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return query{}, badQuery(fmt.Sprintf("The parameter '%s' must be an RFC 3339 time, such as 2026-11-29T10:00:00Z.", key))
			}
			if key == "since" {
				q.since = t
			} else {
				q.until = t
			}
		case "kind":
			for k := range strings.SplitSeq(v, ",") {
				k = strings.TrimSpace(k)
				if !slices.Contains(Kinds(), k) {
					return query{}, badQuery(fmt.Sprintf("The kind '%s' is not one of %s.", clean(k, 64), strings.Join(Kinds(), ", ")))
				}
				q.kinds = append(q.kinds, k)
			}
			if len(q.kinds) > maxKinds {
				return query{}, badQuery("The parameter 'kind' names too many kinds.")
			}
		case "actor":
			q.actor = v
		case "clientid":
			q.clientID = v
		case "target":
			q.target = strings.TrimRight(v, "/")
			if q.target == "" {
				q.target = v
			}
		case "outcome":
			if v != store.AuditSuccess && v != store.AuditDenied && v != store.AuditFailed {
				return query{}, badQuery(fmt.Sprintf("The outcome must be %s, %s or %s.", store.AuditSuccess, store.AuditDenied, store.AuditFailed))
			}
			q.outcome = v
		case "$top":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > MaxPageSize {
				return query{}, badQuery(fmt.Sprintf("The parameter '$top' must be an integer from 1 to %d.", MaxPageSize))
			}
			q.top = n
		case "$skiptoken":
			if !validID(v) {
				return query{}, badQuery("The parameter '$skiptoken' is not valid.")
			}
			q.skip = v
		case "api-version":
			// Accepted for ARM-minded clients; there is one version.
		default:
			return query{}, badQuery(fmt.Sprintf("The parameter '%s' is not supported: use since, until, kind, actor, clientId, target, outcome, $top or $skiptoken.", clean(name, 64)))
		}
	}
	if !q.since.IsZero() && !q.until.IsZero() && !q.since.Before(q.until) {
		return query{}, badQuery("'since' must be before 'until'.")
	}
	return q, nil
}

// validID reports whether s is shaped as an event ID.
func validID(s string) bool {
	ts, suffix, ok := strings.Cut(s, "-")
	if !ok || len(ts) != len(store.AuditTimeFormat) || len(suffix) == 0 || len(suffix) > 32 {
		return false
	}
	if _, err := time.Parse(store.AuditTimeFormat, ts); err != nil {
		return false
	}
	return !strings.ContainsFunc(suffix, func(r rune) bool {
		return (r < '0' || r > '9') && (r < 'a' || r > 'f')
	})
}

func badQuery(msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "InvalidQueryParameter", message: msg}
}

// matches applies the filters other than the time range.
func (q query) matches(e store.AuditEvent) bool {
	switch {
	case len(q.kinds) > 0 && !slices.Contains(q.kinds, e.EventKind):
		return false
	case q.actor != "" && !strings.EqualFold(e.Actor.ObjectID, q.actor) && !strings.EqualFold(e.Actor.ClientID, q.actor):
		return false
	case q.clientID != "" && !strings.EqualFold(e.ClientID, q.clientID):
		return false
	case q.outcome != "" && e.Outcome.Result != q.outcome:
		return false
	case q.target != "" && !underTarget(e.Target, q.target):
		return false
	}
	return true
}

// underTarget reports whether target is prefix or lies below it (the next
// character is a slash), comparing case-insensitively.
func underTarget(target, prefix string) bool {
	if len(target) < len(prefix) || !strings.EqualFold(target[:len(prefix)], prefix) {
		return false
	}
	return len(target) == len(prefix) || target[len(prefix)] == '/' || strings.HasSuffix(prefix, "/")
}

// scan reads the tenant's events in key order from the query's start and
// returns up to q.top visible, matching events, and the ID to continue
// after ("" at the end).
func (h *Handler) scan(ctx context.Context, tenant string, q query, vis visibility) ([]store.AuditEvent, string, error) {
	prefix := store.AuditEventPrefix(tenant)
	after := prefix
	if !q.since.IsZero() {
		after = store.AuditTimeKey(tenant, q.since)
	}
	if q.skip != "" && prefix+q.skip > after {
		after = prefix + q.skip
	}
	end := ""
	if !q.until.IsZero() {
		end = store.AuditTimeKey(tenant, q.until)
	}
	out := []store.AuditEvent{}
	scanned := 0
	for {
		var chunk []store.AuditEvent
		err := h.cfg.Store.View(ctx, func(tx store.Tx) error {
			var err error
			chunk, err = store.List[store.AuditEvent](ctx, tx, prefix, after, scanChunk)
			return err
		})
		if err != nil {
			return nil, "", fmt.Errorf("list audit events: %w", err)
		}
		for _, e := range chunk {
			k := e.Key()
			if end != "" && k >= end {
				return out, "", nil
			}
			after = k
			scanned++
			if vis.sees(e) && q.matches(e) {
				out = append(out, e)
			}
			if len(out) == q.top || scanned == maxScan {
				return out, e.ID, nil
			}
		}
		if len(chunk) < scanChunk {
			return out, "", nil
		}
	}
}

// nextLink is the URL of the page after skip, with the request's filters.
func (h *Handler) nextLink(tenant string, vals url.Values, skip string) string {
	next := url.Values{}
	for k, v := range vals {
		if !strings.EqualFold(k, "$skiptoken") {
			next[k] = v
		}
	}
	next.Set("$skiptoken", skip)
	return h.publicURL + "/" + tenant + "/fedcred/auditEvents?" + next.Encode()
}

// unauthenticated is ARM's 401 with a Bearer challenge naming the tenant.
func (h *Handler) unauthenticated(r *http.Request, tenant string) *apiError {
	message := "Authentication failed. The 'Authorization' header is invalid."
	if r.Header.Get("Authorization") == "" {
		message = "Authentication failed. The 'Authorization' header is missing."
	}
	hdr := http.Header{}
	hdr.Set("WWW-Authenticate", fmt.Sprintf(`Bearer authorization_uri="%s/%s/oauth2/authorize", error="invalid_token"`, h.publicURL, tenant))
	return &apiError{status: http.StatusUnauthorized, code: "AuthenticationFailed", message: message, header: hdr}
}

// writeError writes err in ARM's CloudError shape; an unexpected error is
// logged and answered without detail.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		status, msg := http.StatusInternalServerError, "The server encountered an internal error. Please retry the request."
		if errors.Is(err, store.ErrUnavailable) {
			status, msg = http.StatusServiceUnavailable, "The service is temporarily unavailable. Please retry the request."
		}
		h.log.Error("audit api request failed", "path", r.URL.Path, "err", err)
		ae = &apiError{status: status, code: http.StatusText(status), message: msg}
		ae.code = strings.ReplaceAll(ae.code, " ", "")
	}
	for k, vs := range ae.header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	writeJSON(w, ae.status, map[string]any{"error": map[string]string{"code": ae.code, "message": ae.message}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
