// Package trust answers which keys a tenant trusts for an assertion's
// issuer: the cluster issuers fedcred hosts first, then issuers reached over
// the network through a guarded, cached fetch of their discovery document
// and JWKS. Issuers under the server's own URL are never fetched.
package trust

import (
	"context"
	"errors"
	"strings"

	"github.com/go-jose/go-jose/v4"

	"github.com/fedcred/fedcred/internal/issuer"
)

// Hosted is the source of the issuers fedcred hosts (*issuer.Service).
type Hosted interface {
	KeysFor(ctx context.Context, issuerURL string) (jose.JSONWebKeySet, error)
}

// Remote is the source of issuers reached over the network
// (*remoteissuer.Cache).
type Remote interface {
	Keys(ctx context.Context, issuer, kid string) (jose.JSONWebKeySet, error)
}

// Keys combines the sources. Remote may be nil: then only hosted issuers
// are trusted.
type Keys struct {
	Hosted    Hosted
	Remote    Remote
	PublicURL string
}

// KeysFor implements sts.AssertionKeys.
func (k Keys) KeysFor(ctx context.Context, tenantID, issuerURL, kid string) (jose.JSONWebKeySet, error) {
	set, err := k.Hosted.KeysFor(ctx, issuerURL)
	if !errors.Is(err, issuer.ErrUnknownIssuer) {
		return set, err
	}
	if k.Remote == nil || k.own(issuerURL) {
		return jose.JSONWebKeySet{}, err
	}
	return k.Remote.Keys(ctx, issuerURL, kid)
}

// own reports whether issuerURL lies in the server's own URL space, where
// only hosted issuers live: such an issuer is never fetched.
func (k Keys) own(issuerURL string) bool {
	base := strings.TrimSuffix(k.PublicURL, "/")
	return base != "" && (issuerURL == base || strings.HasPrefix(issuerURL, base+"/"))
}
