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
	"github.com/fedcred/fedcred/pkg/accesstoken"
)

// authenticator verifies the bearer tokens the management API receives:
// tokens this server's STS issued for a management audience.
type authenticator struct {
	store     store.Store
	keys      *keys.Manager
	publicURL string
	audiences []string
	now       func() time.Time
}

// Authenticate implements arm.Config.Authenticate.
func (a *authenticator) Authenticate(r *http.Request) (arm.Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return arm.Principal{}, fmt.Errorf("%w: the 'Authorization' header is missing", arm.ErrUnauthenticated)
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return arm.Principal{}, fmt.Errorf("%w: the 'Authorization' header is not a bearer token", arm.ErrUnauthenticated)
	}
	tid, err := accesstoken.UnverifiedTenant(token)
	if err != nil {
		return arm.Principal{}, fmt.Errorf("%w: %v", arm.ErrUnauthenticated, err)
	}
	ctx := r.Context()
	if err := a.store.View(ctx, func(tx store.Tx) error {
		_, err := store.Get[store.Tenant](ctx, tx, store.Tenant{ID: tid}.Key())
		return err
	}); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return arm.Principal{}, fmt.Errorf("%w: unknown tenant", arm.ErrUnauthenticated)
		}
		return arm.Principal{}, err
	}
	v, err := accesstoken.NewValidator(accesstoken.Config{
		Issuer:    a.publicURL + "/" + tid + "/",
		Audiences: a.audiences,
		Keys: func(ctx context.Context) (jose.JSONWebKeySet, error) {
			return a.keys.PublicKeys(ctx, keys.TenantOwner(tid))
		},
		Now: a.now,
	})
	if err != nil {
		return arm.Principal{}, err
	}
	c, err := v.Validate(ctx, token)
	if err != nil {
		if errors.Is(err, accesstoken.ErrInvalidToken) {
			return arm.Principal{}, fmt.Errorf("%w: %v", arm.ErrUnauthenticated, err)
		}
		return arm.Principal{}, err
	}
	p := arm.Principal{ObjectID: c.ObjectID, ClientID: c.AppID, TenantID: c.TenantID, Type: "ServicePrincipal"}
	if c.ResourceID != "" {
		p.Type = "ManagedIdentity"
	}
	return p, nil
}
