package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/fedcred/fedcred/internal/arm"
	"github.com/fedcred/fedcred/internal/keys"
	"github.com/fedcred/fedcred/internal/store"
	"github.com/fedcred/fedcred/internal/vault"
	"github.com/fedcred/fedcred/pkg/accesstoken"
)

// errInvalidToken wraps every reason a bearer token is refused.
var errInvalidToken = errors.New("invalid bearer token")

// tokenVerifier validates bearer tokens this server's STS issued, for the
// resources the server itself hosts (management API, Key Vault, Graph).
type tokenVerifier struct {
	store     store.Store
	keys      *keys.Manager
	publicURL string
	now       func() time.Time
}

// bearer extracts the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", fmt.Errorf("%w: the 'Authorization' header is missing", errInvalidToken)
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", fmt.Errorf("%w: the 'Authorization' header is not a bearer token", errInvalidToken)
	}
	return strings.TrimSpace(token), nil
}

// verify validates token for one of audiences and returns its claims. A
// refusal wraps errInvalidToken; any other error means the keys could not
// be read.
func (v *tokenVerifier) verify(ctx context.Context, token string, audiences []string) (*accesstoken.Claims, error) {
	tid, err := accesstoken.UnverifiedTenant(token)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errInvalidToken, err)
	}
	if err := v.store.View(ctx, func(tx store.Tx) error {
		_, err := store.Get[store.Tenant](ctx, tx, store.Tenant{ID: tid}.Key())
		return err
	}); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("%w: unknown tenant", errInvalidToken)
		}
		return nil, err
	}
	val, err := accesstoken.NewValidator(accesstoken.Config{
		Issuer:    v.publicURL + "/" + tid + "/",
		Audiences: audiences,
		Keys: func(ctx context.Context) (jose.JSONWebKeySet, error) {
			return v.keys.PublicKeys(ctx, keys.TenantOwner(tid))
		},
		Now: v.now,
	})
	if err != nil {
		return nil, err
	}
	c, err := val.Validate(ctx, token)
	if err != nil {
		if errors.Is(err, accesstoken.ErrInvalidToken) {
			return nil, fmt.Errorf("%w: %v", errInvalidToken, err)
		}
		return nil, err
	}
	return c, nil
}

// authenticator verifies the bearer tokens the management API receives:
// tokens this server's STS issued for a management audience.
type authenticator struct {
	verifier  *tokenVerifier
	audiences []string
}

// Authenticate implements arm.Config.Authenticate.
// A request the portal makes in-process carries its signed-in principal in
// the context (see withPortalPrincipal); that principal is used as it is,
// before any bearer token is looked at.
func (a *authenticator) Authenticate(r *http.Request) (arm.Principal, error) {
	if p, ok := portalPrincipal(r.Context()); ok {
		return p, nil
	}
	token, err := bearer(r)
	if err == nil {
		var c *accesstoken.Claims
		c, err = a.verifier.verify(r.Context(), token, a.audiences)
		if err == nil {
			p := arm.Principal{ObjectID: c.ObjectID, ClientID: c.AppID, TenantID: c.TenantID, Type: arm.PrincipalServicePrincipal}
			if c.ResourceID != "" {
				p.Type = arm.PrincipalManagedIdentity
			}
			return p, nil
		}
	}
	if errors.Is(err, errInvalidToken) {
		return arm.Principal{}, fmt.Errorf("%w: %v", arm.ErrUnauthenticated, err)
	}
	return arm.Principal{}, err
}

// vaultAudiences are the audiences the Key Vault data plane accepts.
var vaultAudiences = []string{vault.Resource, vault.Resource + "/"}

// vaultCaller implements vault.Config.Authenticate.
func (v *tokenVerifier) vaultCaller(ctx context.Context, token string) (vault.Caller, error) {
	c, err := v.verify(ctx, token, vaultAudiences)
	if err != nil {
		if errors.Is(err, errInvalidToken) {
			return vault.Caller{}, fmt.Errorf("%w: %v", vault.ErrUnauthenticated, err)
		}
		return vault.Caller{}, err
	}
	return vault.Caller{ObjectID: c.ObjectID, TenantID: c.TenantID, AppID: c.AppID}, nil
}

// portalPrincipalKey is the context key of the portal's signed-in principal.
// Only code in this process can set it: a request from the network never
// carries it.
type portalPrincipalKey struct{}

// withPortalPrincipal is portal.Config.WithPrincipal: it makes the
// management API treat an in-process request as made by p.
func withPortalPrincipal(ctx context.Context, p arm.Principal) context.Context {
	return context.WithValue(ctx, portalPrincipalKey{}, p)
}

// portalPrincipal returns the principal withPortalPrincipal set, if any.
func portalPrincipal(ctx context.Context) (arm.Principal, bool) {
	p, ok := ctx.Value(portalPrincipalKey{}).(arm.Principal)
	return p, ok && p.ObjectID != ""
}
