package arm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/fedcred/fedcred/internal/rbac"
	"github.com/fedcred/fedcred/internal/store"
)

// Principal is the authenticated caller.
type Principal struct {
	// ObjectID is the principal's object id (a managed identity's principalId).
	ObjectID string
	// ClientID is the application (client) id the token was issued to.
	ClientID string
	// TenantID is the tenant the token was issued in.
	TenantID string
	// Type is PrincipalServicePrincipal or PrincipalManagedIdentity.
	Type string
}

// Principal types.
const (
	PrincipalServicePrincipal = "ServicePrincipal"
	PrincipalManagedIdentity  = "ManagedIdentity"
)

// access is what a request does in RBAC terms: an action on a scope.
type access struct {
	Action string
	Scope  string
}

// unauthenticated answers a request whose bearer token is missing or invalid
// the way ARM does: 401 AuthenticationFailed with a Bearer challenge.
func (h *Handler) unauthenticated(r *http.Request, cause error) *apiError {
	message := "Authentication failed. The 'Authorization' header is invalid."
	description := "The access token is invalid."
	if r.Header.Get("Authorization") == "" {
		message = "Authentication failed. The 'Authorization' header is missing."
		description = "The authentication failed because of missing 'Authorization' header."
	}
	hdr := http.Header{}
	hdr.Set("WWW-Authenticate", fmt.Sprintf(
		`Bearer authorization_uri="%s/%s/oauth2/authorize", error="invalid_token", error_description="%s"`,
		h.publicURL, h.tenantID, description))
	return &apiError{
		status:  http.StatusUnauthorized,
		code:    "AuthenticationFailed",
		message: message,
		header:  hdr,
		cause:   cause,
	}
}

// authenticate runs Config.Authenticate: an error wrapping ErrUnauthenticated
// becomes a 401, any other error is an internal failure.
func (h *Handler) authenticate(r *http.Request) (Principal, error) {
	p, err := h.cfg.Authenticate(r)
	if err != nil {
		if errors.Is(err, ErrUnauthenticated) {
			return Principal{}, h.unauthenticated(r, err)
		}
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	return p, nil
}

// authorize decides whether p may perform a: a role assigned to p at a's
// scope or above must grant a's action (a management action, never a data
// action). Service principals are decided like everyone else; the admin
// principal is an Owner by assignment, not by exception. An authorizer that
// cannot decide fails the request (503 or 500); it never allows. Tenant
// isolation is not decided here but by visible, before any resource is read.
func (h *Handler) authorize(ctx context.Context, p Principal, a access) error {
	allowed, err := h.allowed(ctx, p, a)
	if err != nil {
		return err
	}
	if allowed {
		return nil
	}
	return &apiError{
		status: http.StatusForbidden,
		code:   "AuthorizationFailed",
		message: fmt.Sprintf("The client '%s' with object id '%s' does not have authorization to perform action '%s' "+
			"over scope '%s' or the scope is invalid. If access was recently granted, please refresh your credentials.",
			p.ObjectID, p.ObjectID, a.Action, a.Scope),
	}
}

// allowed asks the authorizer whether p may perform a.
func (h *Handler) allowed(ctx context.Context, p Principal, a access) (bool, error) {
	if p.ObjectID == "" {
		return false, nil
	}
	d, err := h.cfg.Authorizer.Decide(ctx, rbac.Request{PrincipalID: p.ObjectID, Action: a.Action, Scope: a.Scope})
	if err != nil {
		return false, fmt.Errorf("authorize %s on %s: %w", a.Action, a.Scope, err)
	}
	return d.Allowed, nil
}

// visible reports whether sub belongs to p's tenant.
func visible(p Principal, sub store.Subscription) bool {
	return p.TenantID != "" && strings.EqualFold(sub.TenantID, p.TenantID)
}
