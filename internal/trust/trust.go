// Package trust answers which keys a tenant trusts for an assertion's
// issuer. The sources are asked in order:
//
//  1. the cluster issuers fedcred hosts;
//  2. issuers whose keys were uploaded to the tenant (trusted issuers:
//     private clusters fedcred cannot reach), whose keys are never fetched
//     over the network, not even when a token names an unknown kid;
//  3. issuers reached over the network through a guarded, cached fetch of
//     their discovery document and JWKS.
//
// Issuers under the server's own URL are only ever hosted: they are neither
// uploaded nor fetched.
//
// The package also holds the two formats of trusted issuers: ParseJWKS, the
// strict validation of an uploaded key set, and the publish-keys proof
// (SignProof, VerifyProof) with which an issuer replaces its own keys.
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

// Uploaded is the source of the keys uploaded for issuers of a tenant
// (*UploadedStore). ok is false when none were uploaded for the issuer.
type Uploaded interface {
	UploadedKeys(ctx context.Context, tenantID, issuerURL string) (set jose.JSONWebKeySet, ok bool, err error)
}

// Remote is the source of issuers reached over the network
// (*remoteissuer.Cache).
type Remote interface {
	Keys(ctx context.Context, issuer, kid string) (jose.JSONWebKeySet, error)
}

// Keys combines the sources. Uploaded and Remote may be nil: then only
// the other sources are asked.
type Keys struct {
	Hosted    Hosted
	Uploaded  Uploaded
	Remote    Remote
	PublicURL string
}

// KeysFor implements sts.AssertionKeys.
func (k Keys) KeysFor(ctx context.Context, tenantID, issuerURL, kid string) (jose.JSONWebKeySet, error) {
	set, err := k.Hosted.KeysFor(ctx, issuerURL)
	if !errors.Is(err, issuer.ErrUnknownIssuer) {
		return set, err
	}
	if k.own(issuerURL) {
		return jose.JSONWebKeySet{}, err
	}
	if k.Uploaded != nil {
		up, ok, upErr := k.Uploaded.UploadedKeys(ctx, tenantID, issuerURL)
		if ok || upErr != nil {
			return up, upErr
		}
	}
	if k.Remote == nil {
		return jose.JSONWebKeySet{}, err
	}
	return k.Remote.Keys(ctx, issuerURL, kid)
}

// Own reports whether issuerURL lies in the URL space of the server at
// publicURL, where only hosted issuers live: such an issuer is never
// uploaded or fetched. Case is ignored, so that no spelling of the server's
// host slips through.
func Own(publicURL, issuerURL string) bool {
	base := strings.ToLower(strings.TrimSuffix(publicURL, "/"))
	iss := strings.ToLower(issuerURL)
	return base != "" && (iss == base || strings.HasPrefix(iss, base+"/"))
}

func (k Keys) own(issuerURL string) bool { return Own(k.PublicURL, issuerURL) }
