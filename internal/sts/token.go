package sts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/fedcred/fedcred/internal/store"
)

const (
	grantClientCredentials = "client_credentials"
	jwtBearer              = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	defaultScopeSuffix     = "/.default"
)

// tokenRequest is a parsed client-credentials request.
type tokenRequest struct {
	tenant         string // as in the path
	clientID       string
	secret         string // client_secret or the Basic password
	secretGiven    bool
	assertion      string
	assertionGiven bool
	resource       string // from resource= (v1) or the scope (v2)
}

// client is the principal a request authenticates as.
type client struct {
	identity *store.Identity         // a managed identity, or
	sp       *store.ServicePrincipal // a service principal
	fics     []store.FederatedCredential
}

func (c client) objectID() string {
	if c.identity != nil {
		return c.identity.PrincipalID
	}
	return c.sp.ObjectID
}

func (c client) tenant() string {
	if c.identity != nil {
		return c.identity.TenantID
	}
	return c.sp.TenantID
}

func (c client) kind() string {
	if c.identity != nil {
		return "managedIdentity"
	}
	return "servicePrincipal"
}

func (h *Handler) token(version endpointVersion) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h.exchangeToken(w, r, version, h.startExchange(endpointName(version)))
	}
}

// exchangeToken serves a token request at a tenant's endpoint of version; x
// measures it.
func (h *Handler) exchangeToken(w http.ResponseWriter, r *http.Request, version endpointVersion, x *exchange) {
	req, perr := parseTokenRequest(w, r, version)
	attrs := []any{"tenant", clip(req.tenant), "client_id", clip(req.clientID), "endpoint", "v" + strconv.Itoa(int(version))}
	tenant, cl, err := h.load(r.Context(), req, perr)
	if err != nil {
		h.refuse(w, r, x, err, attrs...)
		return
	}
	x.client(cl)
	auth, err := h.authenticate(r.Context(), req, cl)
	if err != nil {
		h.refuse(w, r, x, err, attrs...)
		return
	}
	res, found, rerr := h.resolveResource(r.Context(), tenant.ID, cl, req.resource)
	switch {
	case rerr != nil:
		h.refuse(w, r, x, errInternal(rerr), attrs...)
		return
	case !found:
		h.refuse(w, r, x, errResourceNotFound(req.resource, tenantName(tenant)), attrs...)
		return
	}
	tok, err := h.mint(r.Context(), tenant, cl, auth, req, res)
	if err != nil {
		h.refuse(w, r, x, err, attrs...)
		return
	}
	corr := correlationID(r)
	h.auditIssued(r, tenant, cl, auth, req, corr)
	h.log.LogAttrs(r.Context(), slog.LevelInfo, "token issued",
		slog.String("tenant", tenant.ID), slog.String("client_id", req.clientID),
		slog.String("client_kind", cl.kind()), slog.String("method", auth.method),
		slog.String("fic", auth.fic), slog.String("resource", clip(req.resource)),
		slog.Int("roles", len(res.roles)),
		slog.String("endpoint", "v"+strconv.Itoa(int(version))),
		slog.String("correlation_id", corr))
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, tok.response(version))
	x.finish(nil)
}

// parseTokenRequest reads and checks the parameters. It returns what it could
// read even when it fails, so the refusal can be logged with the client ID and
// a tenant error can take precedence over a parameter error.
func parseTokenRequest(w http.ResponseWriter, r *http.Request, version endpointVersion) (tokenRequest, *Error) {
	req := tokenRequest{tenant: r.PathValue("tenant")}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return req, errMalformedRequest(fmt.Sprintf("the request body is larger than %d bytes.", maxFormBytes))
		}
		return req, errMalformedRequest("the request body is not a valid form.")
	}
	form := r.PostForm
	for _, name := range []string{"grant_type", "client_id", "client_secret", "client_assertion", "client_assertion_type", "scope", "resource"} {
		if len(form[name]) > 1 {
			return req, errMalformedRequest(fmt.Sprintf("the parameter '%s' is given more than once.", name))
		}
	}
	req.clientID = form.Get("client_id")
	// An empty client_secret or client_assertion counts as absent, as an
	// empty required parameter does everywhere else.
	req.secret = form.Get("client_secret")
	req.secretGiven = req.secret != ""
	req.assertion = form.Get("client_assertion")
	req.assertionGiven = req.assertion != ""
	if user, pass, ok := r.BasicAuth(); ok {
		// client_secret_basic: both parts are form-urlencoded (RFC 6749 §2.3.1).
		u, uerr := url.QueryUnescape(user)
		p, perr := url.QueryUnescape(pass)
		switch {
		case uerr != nil || perr != nil:
			return req, errMalformedRequest("the HTTP Basic credentials are not form-urlencoded.")
		case req.secretGiven || req.assertionGiven:
			return req, errMalformedRequest("the request uses more than one client authentication method.")
		case req.clientID != "" && req.clientID != u:
			return req, errMalformedRequest("the HTTP Basic user is not the client_id.")
		}
		req.clientID, req.secret, req.secretGiven = u, p, true
	}

	grant := form.Get("grant_type")
	switch {
	case grant == "":
		return req, errMissingParameter("grant_type")
	case grant != grantClientCredentials:
		return req, errUnsupportedGrant(grant)
	}
	if version == v2 {
		if form.Has("resource") {
			return req, errResourceOnV2()
		}
		if strings.TrimSpace(form.Get("scope")) == "" {
			return req, errMissingParameter("scope")
		}
	} else if form.Get("resource") == "" {
		return req, errMissingParameter("resource")
	}
	if req.clientID == "" {
		return req, errMissingParameter("client_id")
	}
	if version == v2 {
		res, err := resourceFromScope(form.Get("scope"))
		if err != nil {
			return req, err
		}
		req.resource = res
	} else {
		req.resource = form.Get("resource")
	}
	switch {
	case req.secretGiven && req.assertionGiven:
		return req, errMalformedRequest("the request uses more than one client authentication method.")
	case !req.secretGiven && !req.assertionGiven:
		return req, errNoCredential()
	case req.assertionGiven:
		at := form.Get("client_assertion_type")
		if at == "" {
			return req, errMissingParameter("client_assertion_type")
		}
		if at != jwtBearer {
			return req, errAssertionType()
		}
	}
	return req, nil
}

// oidcScope reports whether s is one of the scopes MSAL adds to every
// request, which a client-credentials request ignores.
func oidcScope(s string) bool {
	return s == "openid" || s == "offline_access" || s == "profile"
}

// resourceFromScope takes the single "<resource>/.default" scope, after
// dropping the OIDC scopes, and returns everything before its last
// "/.default": "https://management.core.windows.net//.default" gives
// "https://management.core.windows.net/".
func resourceFromScope(scope string) (string, *Error) {
	var rest []string
	for _, s := range strings.Fields(scope) {
		if !oidcScope(s) {
			rest = append(rest, s)
		}
	}
	if len(rest) != 1 || !strings.HasSuffix(rest[0], defaultScopeSuffix) || len(rest[0]) == len(defaultScopeSuffix) {
		return "", errInvalidScopeValue(scope)
	}
	return strings.TrimSuffix(rest[0], defaultScopeSuffix), nil
}

// load reads the tenant and the client in one transaction. Errors are
// reported in Entra's order: unknown tenant, then the request's own
// problems (perr), then an unknown client.
func (h *Handler) load(ctx context.Context, req tokenRequest, perr *Error) (store.Tenant, client, *Error) {
	var (
		tenant store.Tenant
		cl     client
		out    *Error
	)
	err := h.store.View(ctx, func(tx store.Tx) error {
		t, e := lookupTenant(ctx, tx, req.tenant)
		if e != nil {
			out = e
			return nil
		}
		tenant = t
		if perr != nil {
			out = perr
			return nil
		}
		c, found, err := lookupClient(ctx, tx, tenant.ID, req.clientID)
		if err != nil {
			return err
		}
		if !found {
			out = errClientNotFound(req.clientID, req.tenant)
			return nil
		}
		cl = c
		return nil
	})
	if err != nil {
		return tenant, cl, errInternal(fmt.Errorf("load client: %w", err))
	}
	return tenant, cl, out
}

// lookupTenant finds a tenant by the GUID in the path; anything else,
// including a domain name, is a tenant fedcred does not have.
func lookupTenant(ctx context.Context, tx store.Tx, name string) (store.Tenant, *Error) {
	if _, err := uuid.Parse(name); err != nil || len(name) != 36 {
		return store.Tenant{}, errTenantNotFound(errInvalidRequest, name)
	}
	t, err := store.Get[store.Tenant](ctx, tx, strings.ToLower(name))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Tenant{}, errTenantNotFound(errInvalidRequest, name)
	case err != nil:
		return store.Tenant{}, errInternal(fmt.Errorf("get tenant: %w", err))
	}
	return t, nil
}

// lookupClient finds the managed identity or service principal of tenant
// with clientID, and an identity's federated credentials.
func lookupClient(ctx context.Context, tx store.Tx, tenantID, clientID string) (client, bool, error) {
	alt := strings.ToLower(clientID)
	id, err := store.GetByAlt[store.Identity](ctx, tx, alt)
	switch {
	case err == nil && strings.EqualFold(id.TenantID, tenantID):
		fics, err := store.List[store.FederatedCredential](ctx, tx, ficPrefix(id), "", 0)
		if err != nil {
			return client{}, false, fmt.Errorf("list federated credentials: %w", err)
		}
		return client{identity: &id, fics: fics}, true, nil
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return client{}, false, fmt.Errorf("get identity: %w", err)
	}
	sp, err := store.GetByAlt[store.ServicePrincipal](ctx, tx, alt)
	switch {
	case err == nil && strings.EqualFold(sp.TenantID, tenantID):
		return client{sp: &sp}, true, nil
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return client{}, false, fmt.Errorf("get service principal: %w", err)
	}
	return client{}, false, nil
}

// ficPrefix is the store key prefix of an identity's federated credentials.
func ficPrefix(id store.Identity) string {
	return store.ScopeKey(id.ResourceID() + "/federatedIdentityCredentials/")
}

func tenantName(t store.Tenant) string {
	if t.DisplayName != "" {
		return t.DisplayName
	}
	return t.ID
}

// clip bounds caller-supplied text written to the log.
func clip(s string) string {
	const limit = 128
	if len(s) > limit {
		return s[:limit] + "..."
	}
	return s
}
