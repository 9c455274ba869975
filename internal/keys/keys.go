// Package keys manages signing key rings: one per tenant (signing access
// tokens) and one per cluster (signing service-account tokens).
//
// A ring holds at most one active key (it signs), one next key (published,
// not yet signing) and retired keys (published until their RetireAt). Keys are
// created as "next" and only become active on the following rotation, so
// every key is published before it signs, and a retired key stays published
// for the overlap so tokens it signed keep verifying. Private keys are stored
// sealed with the key-encryption key. The key ID is the base64url SHA-256 of
// the DER public key (PKIX), as Kubernetes derives it.
package keys

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/fedcred/fedcred/internal/store"
)

// DefaultRetireAfter is how long a rotated-out key stays published: the
// longest lifetime of a token it may have signed (24 h for both access tokens
// and service-account tokens).
const DefaultRetireAfter = 25 * time.Hour

// rsaBits is the size of generated RSA keys.
const rsaBits = 2048

// maxCachedSigners bounds the cache of opened private keys.
const maxCachedSigners = 4096

// TenantOwner is the ring owner name of a tenant's access-token keys.
func TenantOwner(tenantID string) string { return "tenant/" + strings.ToLower(tenantID) }

// ClusterOwner is the ring owner name of a cluster's service-account keys.
func ClusterOwner(clusterUID string) string { return "cluster/" + strings.ToLower(clusterUID) }

// ErrNoActiveKey is returned when a ring has no key to sign with.
var ErrNoActiveKey = errors.New("no active signing key")

// Config configures a Manager.
type Config struct {
	Store       store.Store
	Sealer      *Sealer
	Now         func() time.Time // defaults to time.Now
	RetireAfter time.Duration    // defaults to DefaultRetireAfter
}

// Manager creates, rotates and uses key rings kept in the store.
type Manager struct {
	store       store.Store
	sealer      *Sealer
	now         func() time.Time
	retireAfter time.Duration

	mu      sync.Mutex
	signers map[string]crypto.Signer // by owner/kid; immutable once opened
}

// NewManager returns a Manager.
func NewManager(cfg Config) (*Manager, error) {
	if cfg.Store == nil || cfg.Sealer == nil {
		return nil, errors.New("keys: store and sealer are required")
	}
	m := &Manager{store: cfg.Store, sealer: cfg.Sealer, now: cfg.Now, retireAfter: cfg.RetireAfter, signers: map[string]crypto.Signer{}}
	if m.now == nil {
		m.now = time.Now
	}
	if m.retireAfter <= 0 {
		m.retireAfter = DefaultRetireAfter
	}
	return m, nil
}

// RingOptions says how a ring's keys are made.
type RingOptions struct {
	// Certificate adds a self-signed certificate to each key, published as
	// x5c and x5t (Entra's tenant keys carry one; cluster keys do not).
	Certificate bool
	// CommonName names the certificate's subject.
	CommonName string
}

// Ensure makes sure owner's ring has an active and a next key, creating what
// is missing. It is safe to call concurrently and from several replicas.
func (m *Manager) Ensure(ctx context.Context, owner string, opts RingOptions) error {
	ring, err := m.ring(ctx, owner)
	if err != nil {
		return err
	}
	if ring.active() != nil && ring.next() != nil {
		return nil
	}
	var fresh []store.SigningKey
	for range 2 {
		k, err := m.generate(owner, opts)
		if err != nil {
			return err
		}
		fresh = append(fresh, k)
	}
	return m.store.Update(ctx, func(tx store.Tx) error {
		r, err := loadRing(ctx, tx, owner)
		if err != nil {
			return err
		}
		now := m.now().UTC()
		if r.active() == nil {
			k := fresh[0]
			if n := r.next(); n != nil { // promote the published next key first
				k = *n
			}
			k.State, k.ActivatedAt = store.KeyActive, now
			if err := store.Put(ctx, tx, k); err != nil {
				return err
			}
			if k.KID != fresh[0].KID {
				r.keys = removeKey(r.keys, k.KID)
			}
			r.keys = append(r.keys, k)
		}
		if r.next() == nil {
			if err := store.Put(ctx, tx, fresh[1]); err != nil {
				return err
			}
		}
		return nil
	})
}

// Rotate retires the active key (it stays published for the overlap),
// promotes the next key, which clients have already seen, to active, and
// publishes a new next key. Keys retired long enough ago are removed.
func (m *Manager) Rotate(ctx context.Context, owner string, opts RingOptions) error {
	_, err := m.rotate(ctx, owner, opts, 0)
	return err
}

// RotateIfOlder rotates owner's ring when its active key has been signing
// for maxAge or longer, and reports whether it did. The age is checked again
// inside the write transaction, so replicas calling it together rotate once.
func (m *Manager) RotateIfOlder(ctx context.Context, owner string, opts RingOptions, maxAge time.Duration) (bool, error) {
	if maxAge <= 0 {
		return false, errors.New("keys: rotation age must be positive")
	}
	r, err := m.ring(ctx, owner)
	if err != nil {
		return false, err
	}
	if a := r.active(); a == nil || m.now().Sub(a.ActivatedAt) < maxAge {
		return false, nil
	}
	return m.rotate(ctx, owner, opts, maxAge)
}

func (m *Manager) rotate(ctx context.Context, owner string, opts RingOptions, maxAge time.Duration) (bool, error) {
	fresh, err := m.generate(owner, opts)
	if err != nil {
		return false, err
	}
	rotated := false
	err = m.store.Update(ctx, func(tx store.Tx) error {
		rotated = false
		r, err := loadRing(ctx, tx, owner)
		if err != nil {
			return err
		}
		now := m.now().UTC()
		if maxAge > 0 {
			if a := r.active(); a == nil || now.Sub(a.ActivatedAt) < maxAge {
				return nil // rotated meanwhile, by this or another replica
			}
		}
		rotated = true
		for _, k := range r.keys {
			switch {
			case k.State == store.KeyActive:
				k.State, k.RetireAt = store.KeyRetired, now.Add(m.retireAfter)
				if err := store.Put(ctx, tx, k); err != nil {
					return err
				}
			case k.State == store.KeyNext:
				k.State, k.ActivatedAt = store.KeyActive, now
				if err := store.Put(ctx, tx, k); err != nil {
					return err
				}
			case k.State == store.KeyRetired && !now.Before(k.RetireAt):
				if err := store.Delete[store.SigningKey](ctx, tx, k.Key()); err != nil {
					return err
				}
			}
		}
		if r.next() == nil && r.active() == nil { // empty ring: the fresh key signs at once
			fresh.State, fresh.ActivatedAt = store.KeyActive, now
		}
		return store.Put(ctx, tx, fresh)
	})
	if err != nil {
		return false, fmt.Errorf("rotate %s keys: %w", owner, err)
	}
	if !rotated {
		return false, nil
	}
	return true, m.Ensure(ctx, owner, opts)
}

// DeleteRing removes every key of owner (when its cluster or tenant goes).
func (m *Manager) DeleteRing(ctx context.Context, owner string) error {
	return m.store.Update(ctx, func(tx store.Tx) error {
		r, err := loadRing(ctx, tx, owner)
		if err != nil {
			return err
		}
		for _, k := range r.keys {
			if err := store.Delete[store.SigningKey](ctx, tx, k.Key()); err != nil {
				return err
			}
		}
		return nil
	})
}

// SignJWT signs claims with owner's active key as an RS256 compact JWS. The
// header carries kid, x5t when the key has a certificate, and header's extra
// fields (such as typ).
func (m *Manager) SignJWT(ctx context.Context, owner string, claims any, header map[jose.HeaderKey]any) (string, error) {
	r, err := m.ring(ctx, owner)
	if err != nil {
		return "", err
	}
	k := r.active()
	if k == nil {
		return "", fmt.Errorf("sign for %s: %w", owner, ErrNoActiveKey)
	}
	priv, err := m.signer(*k)
	if err != nil {
		return "", err
	}
	opts := &jose.SignerOptions{ExtraHeaders: map[jose.HeaderKey]any{}}
	for hk, v := range header {
		opts.ExtraHeaders[hk] = v
	}
	opts.ExtraHeaders["kid"] = k.KID
	if len(k.CertificateDER) > 0 {
		opts.ExtraHeaders["x5t"] = thumbprint(k.CertificateDER)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.Algorithm), Key: priv}, opts)
	if err != nil {
		return "", fmt.Errorf("create signer: %w", err)
	}
	tok, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return tok, nil
}

// PublicKeys returns owner's published keys: next, active and retired keys
// not yet past their RetireAt, active first.
func (m *Manager) PublicKeys(ctx context.Context, owner string) (jose.JSONWebKeySet, error) {
	r, err := m.ring(ctx, owner)
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	now := m.now()
	var set jose.JSONWebKeySet
	for _, k := range r.ordered() {
		if k.State == store.KeyRetired && !now.Before(k.RetireAt) {
			continue
		}
		jwk, err := publicJWK(k)
		if err != nil {
			return jose.JSONWebKeySet{}, err
		}
		set.Keys = append(set.Keys, jwk)
	}
	return set, nil
}

func publicJWK(k store.SigningKey) (jose.JSONWebKey, error) {
	pub, err := x509.ParsePKIXPublicKey(k.PublicKeyDER)
	if err != nil {
		return jose.JSONWebKey{}, fmt.Errorf("parse public key %s: %w", k.KID, err)
	}
	jwk := jose.JSONWebKey{Key: pub, KeyID: k.KID, Algorithm: k.Algorithm, Use: "sig"}
	if len(k.CertificateDER) > 0 {
		cert, err := x509.ParseCertificate(k.CertificateDER)
		if err != nil {
			return jose.JSONWebKey{}, fmt.Errorf("parse certificate %s: %w", k.KID, err)
		}
		sum := sha1.Sum(k.CertificateDER)
		jwk.Certificates = []*x509.Certificate{cert}
		jwk.CertificateThumbprintSHA1 = sum[:]
	}
	return jwk, nil
}

// KeyID derives a key ID from a public key: base64url(SHA-256(PKIX DER)).
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("marshal public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

func thumbprint(certDER []byte) string {
	sum := sha1.Sum(certDER)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func (m *Manager) generate(owner string, opts RingOptions) (store.SigningKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, rsaBits)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("generate key: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("marshal public key: %w", err)
	}
	kid, err := KeyID(&priv.PublicKey)
	if err != nil {
		return store.SigningKey{}, err
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("marshal private key: %w", err)
	}
	sealed, err := m.sealer.Seal(privDER, aad(owner, kid))
	if err != nil {
		return store.SigningKey{}, err
	}
	now := m.now().UTC()
	k := store.SigningKey{
		Owner: owner, KID: kid, Algorithm: string(jose.RS256),
		PublicKeyDER: pubDER, SealedPrivateKey: sealed,
		State: store.KeyNext, CreatedAt: now,
	}
	if opts.Certificate {
		serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
		if err != nil {
			return store.SigningKey{}, fmt.Errorf("generate serial: %w", err)
		}
		cn := opts.CommonName
		if cn == "" {
			cn = owner
		}
		tmpl := &x509.Certificate{
			SerialNumber: serial,
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.AddDate(2, 0, 0),
			KeyUsage:     x509.KeyUsageDigitalSignature,
		}
		k.CertificateDER, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
		if err != nil {
			return store.SigningKey{}, fmt.Errorf("create key certificate: %w", err)
		}
	}
	m.mu.Lock()
	m.cacheSigner(k.Key(), priv)
	m.mu.Unlock()
	return k, nil
}

func aad(owner, kid string) []byte {
	return []byte("signing-key:" + strings.ToLower(owner) + "/" + kid)
}

func (m *Manager) signer(k store.SigningKey) (crypto.Signer, error) {
	m.mu.Lock()
	s, ok := m.signers[k.Key()]
	m.mu.Unlock()
	if ok {
		return s, nil
	}
	der, err := m.sealer.Open(k.SealedPrivateKey, aad(k.Owner, k.KID))
	if err != nil {
		return nil, fmt.Errorf("open key %s: %w", k.KID, err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse key %s: %w", k.KID, err)
	}
	s, ok = priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("key %s cannot sign", k.KID)
	}
	m.mu.Lock()
	m.cacheSigner(k.Key(), s)
	m.mu.Unlock()
	return s, nil
}

// cacheSigner adds to the bounded cache; m.mu must be held.
func (m *Manager) cacheSigner(key string, s crypto.Signer) {
	if len(m.signers) >= maxCachedSigners {
		for k := range m.signers { // evict an arbitrary entry
			delete(m.signers, k)
			break
		}
	}
	m.signers[key] = s
}

type ring struct{ keys []store.SigningKey }

func (m *Manager) ring(ctx context.Context, owner string) (ring, error) {
	var r ring
	err := m.store.View(ctx, func(tx store.Tx) error {
		var err error
		r, err = loadRing(ctx, tx, owner)
		return err
	})
	return r, err
}

func loadRing(ctx context.Context, tx store.Tx, owner string) (ring, error) {
	keys, err := store.List[store.SigningKey](ctx, tx, store.SigningKeyPrefix(owner), "", 0)
	if err != nil {
		return ring{}, fmt.Errorf("load %s keys: %w", owner, err)
	}
	return ring{keys: keys}, nil
}

func (r ring) find(s store.KeyState) *store.SigningKey {
	var found *store.SigningKey
	for i := range r.keys {
		k := &r.keys[i]
		if k.State == s && (found == nil || k.CreatedAt.After(found.CreatedAt)) {
			found = k
		}
	}
	return found
}

func (r ring) active() *store.SigningKey { return r.find(store.KeyActive) }
func (r ring) next() *store.SigningKey   { return r.find(store.KeyNext) }

// ordered lists active, next, then retired keys (newest first).
func (r ring) ordered() []store.SigningKey {
	rank := map[store.KeyState]int{store.KeyActive: 0, store.KeyNext: 1, store.KeyRetired: 2}
	out := append([]store.SigningKey(nil), r.keys...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0; j-- {
			a, b := out[j-1], out[j]
			if rank[a.State] < rank[b.State] || (rank[a.State] == rank[b.State] && !a.CreatedAt.Before(b.CreatedAt)) {
				break
			}
			out[j-1], out[j] = b, a
		}
	}
	return out
}

func removeKey(keys []store.SigningKey, kid string) []store.SigningKey {
	out := keys[:0]
	for _, k := range keys {
		if k.KID != kid {
			out = append(out, k)
		}
	}
	return out
}

// ResealAll re-seals, with the sealer's primary key-encryption key, every
// signing key still sealed with a previous one, and returns how many it
// re-sealed. It is safe to run on several replicas at once.
func (m *Manager) ResealAll(ctx context.Context) (int, error) {
	var stale []store.SigningKey
	err := m.store.View(ctx, func(tx store.Tx) error {
		all, err := store.List[store.SigningKey](ctx, tx, "", "", 0)
		for _, k := range all {
			if !m.sealer.Current(k.SealedPrivateKey) {
				stale = append(stale, k)
			}
		}
		return err
	})
	if err != nil || len(stale) == 0 {
		return 0, err
	}
	n := 0
	err = m.store.Update(ctx, func(tx store.Tx) error {
		n = 0
		for _, old := range stale {
			k, err := store.Get[store.SigningKey](ctx, tx, old.Key())
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if m.sealer.Current(k.SealedPrivateKey) {
				continue
			}
			if k.SealedPrivateKey, err = m.sealer.Reseal(k.SealedPrivateKey, aad(k.Owner, k.KID)); err != nil {
				return fmt.Errorf("re-seal key %s: %w", k.KID, err)
			}
			if err := store.Put(ctx, tx, k); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}
