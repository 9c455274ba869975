package trust

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/go-jose/go-jose/v4"

	"github.com/fedcred/fedcred/internal/remoteissuer"
	"github.com/fedcred/fedcred/internal/store"
)

// maxParsedSets bounds the parsed key sets UploadedStore keeps.
const maxParsedSets = 4096

// UploadedStore serves the keys of trusted issuers (store.TrustedIssuer)
// from a store, which on the server is the in-memory mirror, so a lookup
// never waits on the database. Each JWKS is parsed once and kept until its
// stored document changes. It is safe for concurrent use.
type UploadedStore struct {
	store store.Store

	mu     sync.Mutex
	parsed map[string]parsedSet // by the trusted issuer's alternate key
}

// parsedSet is a stored JWKS and its parsed keys.
type parsedSet struct {
	raw []byte
	set jose.JSONWebKeySet
}

// NewUploadedStore returns an UploadedStore reading from st.
func NewUploadedStore(st store.Store) *UploadedStore {
	return &UploadedStore{store: st, parsed: make(map[string]parsedSet)}
}

// UploadedKeys implements Uploaded: the keys uploaded for issuerURL in
// tenantID, and whether any were. A stored set that no longer parses is an
// error wrapping remoteissuer.ErrBadKeys.
func (u *UploadedStore) UploadedKeys(ctx context.Context, tenantID, issuerURL string) (jose.JSONWebKeySet, bool, error) {
	alt := store.TrustedIssuerAltKey(tenantID, issuerURL)
	if alt == "" {
		return jose.JSONWebKeySet{}, false, nil
	}
	var ti store.TrustedIssuer
	err := u.store.View(ctx, func(tx store.Tx) error {
		var err error
		ti, err = store.GetByAlt[store.TrustedIssuer](ctx, tx, alt)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return jose.JSONWebKeySet{}, false, nil
	case err != nil:
		return jose.JSONWebKeySet{}, false, fmt.Errorf("read trusted issuer: %w", err)
	}
	u.mu.Lock()
	p, ok := u.parsed[alt]
	u.mu.Unlock()
	if ok && bytes.Equal(p.raw, ti.JWKS) {
		return copySet(p.set), true, nil
	}
	jwks, err := ParseJWKS(ti.JWKS)
	if err != nil {
		return jose.JSONWebKeySet{}, true, fmt.Errorf("%w: uploaded keys of %s: %w", remoteissuer.ErrBadKeys, issuerURL, err)
	}
	u.mu.Lock()
	if _, ok := u.parsed[alt]; !ok && len(u.parsed) >= maxParsedSets {
		for k := range u.parsed { // evict one arbitrary entry
			delete(u.parsed, k)
			break
		}
	}
	u.parsed[alt] = parsedSet{raw: ti.JWKS, set: jwks.Set}
	u.mu.Unlock()
	return copySet(jwks.Set), true, nil
}

// copySet returns a set whose slice the caller may change; the keys
// themselves are immutable.
func copySet(s jose.JSONWebKeySet) jose.JSONWebKeySet {
	return jose.JSONWebKeySet{Keys: append([]jose.JSONWebKey(nil), s.Keys...)}
}
