package keys_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/fedcred/fedcred/internal/keys"
	"github.com/fedcred/fedcred/internal/store"
	"github.com/fedcred/fedcred/internal/store/sqlite"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newManager(t *testing.T, c *clock) (*keys.Manager, store.Store) {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	sealer, err := keys.NewSealer(bytes.Repeat([]byte{7}, keys.KEKSize))
	if err != nil {
		t.Fatal(err)
	}
	m, err := keys.NewManager(keys.Config{Store: s, Sealer: sealer, Now: c.Now, RetireAfter: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return m, s
}

func kids(set jose.JSONWebKeySet) []string {
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.KeyID)
	}
	return out
}

func signedKID(t *testing.T, tok string) string {
	t.Helper()
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	return parsed.Headers[0].KeyID
}

func verify(t *testing.T, tok string, set jose.JSONWebKeySet) map[string]any {
	t.Helper()
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	found := set.Key(parsed.Headers[0].KeyID)
	if len(found) != 1 {
		t.Fatalf("signing key %s is not published", parsed.Headers[0].KeyID)
	}
	var claims map[string]any
	if err := parsed.Claims(found[0].Key, &claims); err != nil {
		t.Fatalf("signature does not verify with the published key: %v", err)
	}
	return claims
}

func TestRingLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	m, _ := newManager(t, c)
	owner := keys.ClusterOwner("u1")

	if _, err := m.SignJWT(ctx, owner, map[string]any{"a": 1}, nil); err == nil {
		t.Fatal("signing with an empty ring succeeded")
	}
	if err := m.Ensure(ctx, owner, keys.RingOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := m.Ensure(ctx, owner, keys.RingOptions{}); err != nil { // idempotent
		t.Fatal(err)
	}
	set, err := m.PublicKeys(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 2 {
		t.Fatalf("after Ensure the ring publishes %d keys, want active + next", len(set.Keys))
	}
	first, next := set.Keys[0].KeyID, set.Keys[1].KeyID
	tok, err := m.SignJWT(ctx, owner, map[string]any{"sub": "x"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := signedKID(t, tok); got != first {
		t.Fatalf("signed with %s, want the active key %s", got, first)
	}
	if claims := verify(t, tok, set); claims["sub"] != "x" {
		t.Fatalf("claims = %v", claims)
	}

	// Rotation: the already-published next key signs; the old one stays published.
	if err := m.Rotate(ctx, owner, keys.RingOptions{}); err != nil {
		t.Fatal(err)
	}
	set, err = m.PublicKeys(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	tok2, err := m.SignJWT(ctx, owner, map[string]any{"sub": "y"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := signedKID(t, tok2); got != next {
		t.Fatalf("after rotation signed with %s, want the previously published next key %s", got, next)
	}
	if len(set.Keys) != 3 {
		t.Fatalf("during overlap %d keys published (%v), want 3", len(set.Keys), kids(set))
	}
	verify(t, tok, set) // a token signed before rotation still verifies
	verify(t, tok2, set)

	// After the overlap the retired key is no longer published.
	c.Add(time.Hour)
	set, err = m.PublicKeys(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range set.Keys {
		if k.KeyID == first {
			t.Fatalf("retired key %s still published after its overlap", first)
		}
	}
}

func TestTenantKeysCarryCertificate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, _ := newManager(t, &clock{t: time.Now()})
	owner := keys.TenantOwner("T1")
	if err := m.Ensure(ctx, owner, keys.RingOptions{Certificate: true, CommonName: "fedcred tenant"}); err != nil {
		t.Fatal(err)
	}
	set, err := m.PublicKeys(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range set.Keys {
		if len(k.Certificates) != 1 || len(k.CertificateThumbprintSHA1) != 20 {
			t.Fatalf("tenant key %s lacks its certificate or x5t", k.KeyID)
		}
		want, err := keys.KeyID(k.Key)
		if err != nil || want != k.KeyID {
			t.Fatalf("kid %s is not the SHA-256 of the public key (%s, %v)", k.KeyID, want, err)
		}
	}
	tok, err := m.SignJWT(ctx, owner, map[string]any{"a": "b"}, map[jose.HeaderKey]any{"typ": "JWT"})
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	h := parsed.Headers[0]
	if h.ExtraHeaders["x5t"] == nil || h.ExtraHeaders["typ"] != "JWT" {
		t.Fatalf("header lacks x5t or typ: %+v", h.ExtraHeaders)
	}
}

func TestPrivateKeysAreSealed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "k.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sealer, _ := keys.NewSealer(bytes.Repeat([]byte{1}, keys.KEKSize))
	m, _ := keys.NewManager(keys.Config{Store: s, Sealer: sealer})
	if err := m.Ensure(ctx, "cluster/x", keys.RingOptions{}); err != nil {
		t.Fatal(err)
	}
	// Another process with a different KEK cannot sign with the stored keys.
	other, _ := keys.NewSealer(bytes.Repeat([]byte{2}, keys.KEKSize))
	m2, _ := keys.NewManager(keys.Config{Store: s, Sealer: other})
	if _, err := m2.SignJWT(ctx, "cluster/x", map[string]any{}, nil); err == nil {
		t.Fatal("signed with a key sealed under another key-encryption key")
	}
	// The same KEK in a fresh manager (another replica) can.
	again, _ := keys.NewSealer(bytes.Repeat([]byte{1}, keys.KEKSize))
	m3, _ := keys.NewManager(keys.Config{Store: s, Sealer: again})
	if _, err := m3.SignJWT(ctx, "cluster/x", map[string]any{}, nil); err != nil {
		t.Fatalf("replica with the same KEK cannot sign: %v", err)
	}
	var ks []store.SigningKey
	_ = s.View(ctx, func(tx store.Tx) error {
		ks, err = store.List[store.SigningKey](ctx, tx, "", "", 0)
		return err
	})
	for _, k := range ks {
		if bytes.Contains(k.SealedPrivateKey, []byte{0x30, 0x82}) && len(k.SealedPrivateKey) > 0 && k.SealedPrivateKey[0] == 0x30 {
			t.Fatalf("key %s is stored as plain DER", k.KID)
		}
	}
}

func TestSealerRejectsTampering(t *testing.T) {
	t.Parallel()
	s, err := keys.NewSealer(bytes.Repeat([]byte{9}, keys.KEKSize))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.Seal([]byte("secret"), []byte("a"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(sealed, []byte("b")); err == nil {
		t.Error("opened with other associated data")
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := s.Open(sealed, []byte("a")); err == nil {
		t.Error("opened tampered data")
	}
	if _, err := s.Open([]byte{1, 2}, nil); err == nil {
		t.Error("opened truncated data")
	}
	if _, err := keys.NewSealer([]byte("short")); err == nil {
		t.Error("accepted a short key-encryption key")
	}
}

func TestLoadOrCreateKEK(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "kek")
	a, err := keys.LoadOrCreateKEK(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("kek file mode = %v (%v), want 0600", st.Mode().Perm(), err)
	}
	b, err := keys.LoadOrCreateKEK(path)
	if err != nil || !bytes.Equal(a, b) {
		t.Fatalf("second load returned a different key (%v)", err)
	}
	if err := os.WriteFile(path, []byte("bad"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.LoadOrCreateKEK(path); err == nil {
		t.Fatal("accepted a malformed key-encryption key file")
	}
}

func TestRotateIfOlderRotatesOnceAcrossCallers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	m, s := newManager(t, c)
	// A second manager on the same store stands for another replica.
	sealer, _ := keys.NewSealer(bytes.Repeat([]byte{7}, keys.KEKSize))
	other, _ := keys.NewManager(keys.Config{Store: s, Sealer: sealer, Now: c.Now, RetireAfter: time.Hour})
	owner := keys.TenantOwner("t")
	if err := m.Ensure(ctx, owner, keys.RingOptions{}); err != nil {
		t.Fatal(err)
	}
	if rotated, err := m.RotateIfOlder(ctx, owner, keys.RingOptions{}, 24*time.Hour); err != nil || rotated {
		t.Fatalf("young key rotated: %v, %v", rotated, err)
	}
	c.Add(25 * time.Hour)
	var wg sync.WaitGroup
	results := make(chan bool, 4)
	for _, mgr := range []*keys.Manager{m, other, m, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rotated, err := mgr.RotateIfOlder(ctx, owner, keys.RingOptions{}, 24*time.Hour)
			if err != nil {
				t.Error(err)
			}
			results <- rotated
		}()
	}
	wg.Wait()
	close(results)
	n := 0
	for r := range results {
		if r {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d of 4 concurrent callers rotated, want exactly 1", n)
	}
	set, err := m.PublicKeys(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 3 {
		t.Fatalf("%d keys published after one rotation, want 3 (active, next, retired)", len(set.Keys))
	}
	if _, err := m.RotateIfOlder(ctx, owner, keys.RingOptions{}, 0); err == nil {
		t.Fatal("a zero rotation age was accepted")
	}
}

func TestKEKRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	oldKEK, newKEK := bytes.Repeat([]byte{1}, keys.KEKSize), bytes.Repeat([]byte{2}, keys.KEKSize)
	oldSealer, _ := keys.NewSealer(oldKEK)
	m, _ := keys.NewManager(keys.Config{Store: s, Sealer: oldSealer})
	if err := m.Ensure(ctx, "cluster/x", keys.RingOptions{}); err != nil {
		t.Fatal(err)
	}
	// The new key alone cannot open what the old one sealed.
	onlyNew, _ := keys.NewSealer(newKEK)
	mNew, _ := keys.NewManager(keys.Config{Store: s, Sealer: onlyNew})
	if _, err := mNew.SignJWT(ctx, "cluster/x", map[string]any{}, nil); !errors.Is(err, keys.ErrUnknownKEK) {
		t.Fatalf("sign with only the new KEK: %v, want ErrUnknownKEK", err)
	}
	// New primary + old previous: signs, and re-seals everything.
	both, _ := keys.NewSealer(newKEK, oldKEK)
	mBoth, _ := keys.NewManager(keys.Config{Store: s, Sealer: both})
	if _, err := mBoth.SignJWT(ctx, "cluster/x", map[string]any{}, nil); err != nil {
		t.Fatalf("sign during rotation: %v", err)
	}
	n, err := mBoth.ResealAll(ctx)
	if err != nil || n != 2 {
		t.Fatalf("ResealAll = %d, %v; want the 2 keys re-sealed", n, err)
	}
	if n, err := mBoth.ResealAll(ctx); err != nil || n != 0 {
		t.Fatalf("second ResealAll = %d, %v; want nothing left to do", n, err)
	}
	// Now the old key can be dropped.
	mNew2, _ := keys.NewManager(keys.Config{Store: s, Sealer: onlyNew})
	if _, err := mNew2.SignJWT(ctx, "cluster/x", map[string]any{}, nil); err != nil {
		t.Fatalf("sign with the new KEK after re-sealing: %v", err)
	}
	if !onlyNew.Current(mustSealed(t, s)) || oldSealer.Current(mustSealed(t, s)) {
		t.Fatal("stored keys are not sealed with the new KEK")
	}
}

func mustSealed(t *testing.T, s store.Store) []byte {
	t.Helper()
	var ks []store.SigningKey
	err := s.View(context.Background(), func(tx store.Tx) error {
		var err error
		ks, err = store.List[store.SigningKey](context.Background(), tx, "", "", 1)
		return err
	})
	if err != nil || len(ks) == 0 {
		t.Fatal(err)
	}
	return ks[0].SealedPrivateKey
}
