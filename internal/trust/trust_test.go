package trust

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/fedcred/fedcred/internal/issuer"
	"github.com/fedcred/fedcred/internal/remoteissuer"
	"github.com/fedcred/fedcred/internal/store"
	"github.com/fedcred/fedcred/internal/store/sqlite"
)

// Test keys are generated once per process: RSA generation is slow.
var (
	keysOnce sync.Once
	rsaKey   *rsa.PrivateKey
	rsaKey2  *rsa.PrivateKey
	rsa1024  *rsa.PrivateKey
	ecKey    *ecdsa.PrivateKey
	ec384    *ecdsa.PrivateKey
	ec521    *ecdsa.PrivateKey
)

func testKeys(t *testing.T) {
	t.Helper()
	keysOnce.Do(func() {
		must := func(err error) {
			if err != nil {
				panic(err)
			}
		}
		var err error
		rsaKey, err = rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		rsaKey2, err = rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		rsa1024, err = rsa.GenerateKey(rand.Reader, 1024)
		must(err)
		ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		ec384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		must(err)
		ec521, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
		must(err)
	})
}

// jwk renders the public part of key as a JSON object with extra members.
func jwk(t *testing.T, key any, kid string, extra map[string]any) map[string]any {
	t.Helper()
	data, err := json.Marshal(jose.JSONWebKey{Key: key, KeyID: kid})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range extra {
		if v == nil {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	return m
}

func setOf(t *testing.T, keys ...map[string]any) []byte {
	t.Helper()
	data, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParseJWKS_Accepts(t *testing.T) {
	t.Parallel()
	testKeys(t)
	doc := []byte(`{ "keys": [` + "\n" + mustJSON(t, jwk(t, &rsaKey.PublicKey, "rsa-1", map[string]any{"alg": "RS256", "use": "sig"})) +
		`, ` + mustJSON(t, jwk(t, &ecKey.PublicKey, "ec-1", map[string]any{"alg": "ES256", "key_ops": []string{"verify"}})) +
		`, ` + mustJSON(t, jwk(t, &ec384.PublicKey, "ec-2", nil)) + `] }`)
	got, err := ParseJWKS(doc)
	if err != nil {
		t.Fatalf("ParseJWKS: %v", err)
	}
	want := []KeyInfo{{KID: "rsa-1", Kty: "RSA", Alg: "RS256", Use: "sig"}, {KID: "ec-1", Kty: "EC", Alg: "ES256"}, {KID: "ec-2", Kty: "EC"}}
	if fmt.Sprint(got.Keys) != fmt.Sprint(want) {
		t.Errorf("Keys = %+v, want %+v", got.Keys, want)
	}
	if len(got.Set.Keys) != 3 || !got.Set.Keys[0].IsPublic() {
		t.Errorf("Set = %+v", got.Set)
	}
	if strings.ContainsAny(string(got.Raw), " \n") {
		t.Errorf("Raw is not compacted: %s", got.Raw)
	}
	if _, ok := got.Set.Key("ec-2")[0].Key.(*ecdsa.PublicKey); !ok {
		t.Errorf("ec-2 did not parse as an EC public key")
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestParseJWKS_Refuses(t *testing.T) {
	t.Parallel()
	testKeys(t)
	good := func() map[string]any { return jwk(t, &rsaKey.PublicKey, "k1", nil) }
	withPrivate := func(key any) map[string]any {
		data, _ := json.Marshal(jose.JSONWebKey{Key: key, KeyID: "priv"})
		var m map[string]any
		_ = json.Unmarshal(data, &m)
		return m
	}
	evenExponent := good()
	evenExponent["e"] = base64.RawURLEncoding.EncodeToString(big.NewInt(65536).Bytes())
	many := make([]map[string]any, MaxJWKSKeys+1)
	for i := range many {
		many[i] = jwk(t, &ecKey.PublicKey, fmt.Sprintf("k%d", i), nil)
	}
	tests := []struct {
		name    string
		doc     []byte
		wantKey int
		want    string
	}{
		{name: "not JSON", doc: []byte(`{"keys":`), wantKey: -1, want: "not a JSON object"},
		{name: "an array", doc: []byte(`[]`), wantKey: -1, want: "not a JSON object"},
		{name: "no keys member", doc: []byte(`{"kty":"RSA"}`), wantKey: -1, want: `no "keys" array`},
		{name: "keys null", doc: []byte(`{"keys":null}`), wantKey: -1, want: `no "keys" array`},
		{name: "empty keys", doc: []byte(`{"keys":[]}`), wantKey: -1, want: "at least one key"},
		{name: "too many keys", doc: setOf(t, many...), wantKey: -1, want: "101 keys; at most 100"},
		{name: "too large", doc: []byte(`{"keys":[],"pad":"` + strings.Repeat("x", MaxJWKSBytes) + `"}`), wantKey: -1, want: "larger than"},
		{name: "key not an object", doc: []byte(`{"keys":["x"]}`), wantKey: 0, want: "not a JSON object"},
		{name: "RSA private key", doc: setOf(t, good(), withPrivate(rsaKey)), wantKey: 1, want: `private or symmetric key material ("d")`},
		{name: "EC private key", doc: setOf(t, withPrivate(ecKey)), wantKey: 0, want: `("d")`},
		{name: "symmetric key", doc: []byte(`{"keys":[{"kty":"oct","kid":"s","k":"c2VjcmV0"}]}`), wantKey: 0, want: `("k")`},
		{name: "unknown key type", doc: []byte(`{"keys":[{"kty":"OKP","kid":"o","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`), wantKey: 0, want: `key type "OKP" is not accepted`},
		{name: "missing kty", doc: setOf(t, jwk(t, &rsaKey.PublicKey, "k1", map[string]any{"kty": nil})), wantKey: 0, want: "kty is missing"},
		{name: "missing kid", doc: setOf(t, jwk(t, &rsaKey.PublicKey, "", nil)), wantKey: 0, want: "kid is missing"},
		{name: "kid with a space", doc: setOf(t, jwk(t, &rsaKey.PublicKey, "a b", nil)), wantKey: 0, want: "spaces or control characters"},
		{name: "kid too long", doc: setOf(t, jwk(t, &rsaKey.PublicKey, strings.Repeat("k", 257), nil)), wantKey: 0, want: "longer than 256"},
		{name: "duplicate kid", doc: setOf(t, good(), jwk(t, &ecKey.PublicKey, "k1", nil)), wantKey: 1, want: `kid "k1" is used by an earlier key`},
		{name: "kid not a string", doc: []byte(`{"keys":[{"kty":"RSA","kid":7}]}`), wantKey: 0, want: "must be strings"},
		{name: "encryption key", doc: setOf(t, jwk(t, &rsaKey.PublicKey, "k1", map[string]any{"use": "enc"})), wantKey: 0, want: `use "enc" is not "sig"`},
		{name: "key_ops sign", doc: setOf(t, jwk(t, &rsaKey.PublicKey, "k1", map[string]any{"key_ops": []string{"sign"}})), wantKey: 0, want: "key_ops"},
		{name: "RSA key with an EC alg", doc: setOf(t, jwk(t, &rsaKey.PublicKey, "k1", map[string]any{"alg": "ES256"})), wantKey: 0, want: `alg "ES256" does not fit an RSA key`},
		{name: "P-256 key with ES384", doc: setOf(t, jwk(t, &ecKey.PublicKey, "k1", map[string]any{"alg": "ES384"})), wantKey: 0, want: `does not fit a P-256 key`},
		{name: "short RSA key", doc: setOf(t, jwk(t, &rsa1024.PublicKey, "k1", nil)), wantKey: 0, want: "RSA key of 1024 bits"},
		{name: "even RSA exponent", doc: setOf(t, evenExponent), wantKey: 0, want: "public exponent 65536"},
		{name: "P-521 key", doc: setOf(t, jwk(t, &ec521.PublicKey, "k1", nil)), wantKey: 0, want: "curve P-521 is not accepted"},
		{name: "EC point off the curve", doc: []byte(`{"keys":[{"kty":"EC","kid":"k","crv":"P-256","x":"AQ","y":"AQ"}]}`), wantKey: 0, want: "invalid EC key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseJWKS(tc.doc)
			var je *JWKSError
			if !errors.As(err, &je) {
				t.Fatalf("ParseJWKS = %v, want a *JWKSError", err)
			}
			if je.Key != tc.wantKey || !strings.Contains(je.Reason, tc.want) {
				t.Errorf("error = key %d %q, want key %d containing %q", je.Key, je.Reason, tc.wantKey, tc.want)
			}
		})
	}
}

// fakeHosted hosts one issuer.
type fakeHosted struct {
	iss string
	set jose.JSONWebKeySet
}

func (f fakeHosted) KeysFor(_ context.Context, iss string) (jose.JSONWebKeySet, error) {
	if iss != f.iss {
		return jose.JSONWebKeySet{}, fmt.Errorf("%w: %s", issuer.ErrUnknownIssuer, iss)
	}
	return f.set, nil
}

// fakeRemote records the issuers it is asked for.
type fakeRemote struct {
	mu    sync.Mutex
	asked []string
	set   jose.JSONWebKeySet
}

func (f *fakeRemote) Keys(_ context.Context, iss, kid string) (jose.JSONWebKeySet, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, iss+"#"+kid)
	return f.set, nil
}

// fakeUploaded holds uploads by tenant and issuer.
type fakeUploaded struct {
	sets map[string]jose.JSONWebKeySet
	err  error
}

func (f fakeUploaded) UploadedKeys(_ context.Context, tenant, iss string) (jose.JSONWebKeySet, bool, error) {
	if f.err != nil {
		return jose.JSONWebKeySet{}, false, f.err
	}
	s, ok := f.sets[tenant+" "+iss]
	return s, ok, nil
}

func named(kid string) jose.JSONWebKeySet {
	return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{KeyID: kid}}}
}

func TestKeys_Order(t *testing.T) {
	t.Parallel()
	const (
		public  = "https://fedcred.test"
		hosted  = public + "/oidc/t1/c1/"
		private = "https://private.example/"
		remote  = "https://remote.example/"
	)
	boom := errors.New("mirror broken")
	tests := []struct {
		name       string
		uploaded   Uploaded // replaces the default upload source when setUpload
		setUpload  bool
		noRemote   bool
		tenant     string
		issuer     string
		wantKID    string
		wantErr    error
		wantRemote []string
	}{
		{name: "hosted issuer", issuer: hosted, tenant: "t1", wantKID: "hosted"},
		{name: "uploaded issuer is never fetched", issuer: private, tenant: "t1", wantKID: "uploaded"},
		{name: "upload of another tenant does not count", issuer: private, tenant: "t2", wantKID: "remote", wantRemote: []string{private + "#kid"}},
		{name: "remote issuer", issuer: remote, tenant: "t1", wantKID: "remote", wantRemote: []string{remote + "#kid"}},
		{name: "unknown issuer under the own URL is neither uploaded nor fetched", issuer: public + "/oidc/t1/gone/", tenant: "t1", wantErr: issuer.ErrUnknownIssuer},
		{name: "own URL in another case", issuer: "https://FEDCRED.test/x/", tenant: "t1", wantErr: issuer.ErrUnknownIssuer},
		{name: "upload store failure is not a fetch", issuer: private, tenant: "t1", uploaded: fakeUploaded{err: boom}, setUpload: true, wantErr: boom},
		{name: "no upload source", issuer: private, tenant: "t1", setUpload: true, wantKID: "remote", wantRemote: []string{private + "#kid"}},
		{name: "no remote source", issuer: remote, tenant: "t1", noRemote: true, wantErr: issuer.ErrUnknownIssuer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rem := &fakeRemote{set: named("remote")}
			k := Keys{
				Hosted:    fakeHosted{iss: hosted, set: named("hosted")},
				Uploaded:  fakeUploaded{sets: map[string]jose.JSONWebKeySet{"t1 " + private: named("uploaded")}},
				Remote:    rem,
				PublicURL: public + "/",
			}
			if tc.setUpload {
				k.Uploaded = tc.uploaded
			}
			if tc.noRemote {
				k.Remote = nil
			}
			set, err := k.KeysFor(context.Background(), tc.tenant, tc.issuer, "kid")
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("KeysFor = %v, want %v", err, tc.wantErr)
				}
			} else if err != nil || len(set.Keys) != 1 || set.Keys[0].KeyID != tc.wantKID {
				t.Fatalf("KeysFor = %+v, %v; want the %s keys", set, err, tc.wantKID)
			}
			if fmt.Sprint(rem.asked) != fmt.Sprint(tc.wantRemote) {
				t.Errorf("remote asked for %v, want %v", rem.asked, tc.wantRemote)
			}
		})
	}
}

func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "trust.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func putIssuer(t *testing.T, st store.Store, ti store.TrustedIssuer) {
	t.Helper()
	ctx := context.Background()
	if err := st.Update(ctx, func(tx store.Tx) error { return store.Put(ctx, tx, ti) }); err != nil {
		t.Fatal(err)
	}
}

func TestUploadedStore(t *testing.T) {
	t.Parallel()
	testKeys(t)
	ctx := context.Background()
	st := openStore(t)
	const iss = "https://private.example/"
	ti := store.TrustedIssuer{TenantID: "T1", SubscriptionID: "s", Name: "p", Issuer: iss, JWKS: setOf(t, jwk(t, &rsaKey.PublicKey, "old", nil))}
	putIssuer(t, st, ti)
	u := NewUploadedStore(st)

	kids := func(tenant, issuer string) (string, bool) {
		t.Helper()
		set, ok, err := u.UploadedKeys(ctx, tenant, issuer)
		if err != nil {
			t.Fatalf("UploadedKeys(%s, %s): %v", tenant, issuer, err)
		}
		var out []string
		for _, k := range set.Keys {
			out = append(out, k.KeyID)
		}
		return strings.Join(out, ","), ok
	}
	if got, ok := kids("t1", iss); !ok || got != "old" {
		t.Fatalf("uploaded keys = %q, %v; want old (tenant matched ignoring case)", got, ok)
	}
	for _, tc := range []struct{ name, tenant, issuer string }{
		{"another tenant", "t2", iss},
		{"issuer without its slash", "t1", strings.TrimSuffix(iss, "/")},
		{"issuer in another case", "t1", "https://Private.example/"},
		{"empty issuer", "t1", ""},
	} {
		if got, ok := kids(tc.tenant, tc.issuer); ok || got != "" {
			t.Errorf("%s: uploaded keys = %q, %v; want none", tc.name, got, ok)
		}
	}

	// A replaced set is seen by the next lookup.
	ti.JWKS = setOf(t, jwk(t, &rsaKey2.PublicKey, "new", nil), jwk(t, &ecKey.PublicKey, "ec", nil))
	putIssuer(t, st, ti)
	if got, _ := kids("t1", iss); got != "new,ec" {
		t.Fatalf("after replacing the set: %q, want new,ec", got)
	}
	// The caller may change the returned slice without harm.
	set, _, _ := u.UploadedKeys(ctx, "t1", iss)
	set.Keys[0] = jose.JSONWebKey{KeyID: "mutated"}
	if got, _ := kids("t1", iss); got != "new,ec" {
		t.Fatalf("cached set was changed by a caller: %q", got)
	}

	// A stored set that does not parse is a bad-keys error.
	ti.JWKS = []byte(`{"keys":[{"kty":"RSA","kid":"x","n":"AQAB","e":"AQAB","d":"AQAB"}]}`)
	putIssuer(t, st, ti)
	if _, ok, err := u.UploadedKeys(ctx, "t1", iss); !ok || !errors.Is(err, remoteissuer.ErrBadKeys) {
		t.Fatalf("corrupt set: ok %v err %v, want ErrBadKeys", ok, err)
	}
}

// proofFor signs a proof with custom header and claims.
func proofFor(t *testing.T, key any, alg jose.SignatureAlgorithm, kid, typ string, claims map[string]any) string {
	t.Helper()
	opts := &jose.SignerOptions{}
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestProof_SignAndVerify(t *testing.T) {
	t.Parallel()
	testKeys(t)
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	const iss = "https://private.example/"
	aud := ProofAudience("https://fedcred.test/", "/subscriptions/S/providers/Fedcred/trustedIssuers/p")
	if aud != "https://fedcred.test/subscriptions/S/providers/Fedcred/trustedIssuers/p" {
		t.Fatalf("ProofAudience = %q", aud)
	}
	trusted := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &rsaKey.PublicKey, KeyID: "rsa"}, {Key: &ecKey.PublicKey, KeyID: "ec"}, {Key: &ec384.PublicKey, KeyID: "ec384", Algorithm: "ES384"},
	}}
	for _, tc := range []struct {
		name string
		key  crypto.Signer
		kid  string
	}{{"RSA", rsaKey, "rsa"}, {"P-256", ecKey, "ec"}, {"P-384", ec384, "ec384"}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			raw, err := SignProof(ProofRequest{Key: tc.key, KeyID: tc.kid, Issuer: iss, Audience: aud, JTI: "j-" + tc.kid, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			// The audience is compared ignoring case, as ARM paths are.
			p, err := VerifyProof(raw, trusted, iss, strings.ToLower(aud), now.Add(4*time.Minute))
			if err != nil {
				t.Fatalf("VerifyProof: %v", err)
			}
			want := Proof{KeyID: tc.kid, JTI: "j-" + tc.kid, NotAfter: now.Add(5*time.Minute + ProofClockSkew)}
			if p != want {
				t.Errorf("proof = %+v, want %+v", p, want)
			}
		})
	}
	t.Run("signing refuses what cannot be verified", func(t *testing.T) {
		t.Parallel()
		base := ProofRequest{Key: rsaKey, KeyID: "rsa", Issuer: iss, Audience: aud, JTI: "j", Now: now}
		for name, change := range map[string]func(*ProofRequest){
			"P-521 key":         func(r *ProofRequest) { r.Key = ec521 },
			"lifetime too long": func(r *ProofRequest) { r.Lifetime = 11 * time.Minute },
			"no jti":            func(r *ProofRequest) { r.JTI = "" },
			"no kid":            func(r *ProofRequest) { r.KeyID = "" },
		} {
			r := base
			change(&r)
			if _, err := SignProof(r); err == nil {
				t.Errorf("%s: SignProof succeeded", name)
			}
		}
	})
}

func TestVerifyProof_Refuses(t *testing.T) {
	t.Parallel()
	testKeys(t)
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	const (
		iss = "https://private.example/"
		aud = "https://fedcred.test/subscriptions/S/providers/Fedcred/trustedIssuers/p"
	)
	trusted := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &rsaKey.PublicKey, KeyID: "rsa"}, {Key: &ecKey.PublicKey, KeyID: "ec", Algorithm: "ES256"}}}
	claims := func(change func(map[string]any)) map[string]any {
		c := map[string]any{"iss": iss, "sub": iss, "aud": aud, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": "j1"}
		if change != nil {
			change(c)
		}
		return c
	}
	good := proofFor(t, rsaKey, jose.RS256, "rsa", ProofType, claims(nil))
	if _, err := VerifyProof(good, trusted, iss, aud, now); err != nil {
		t.Fatalf("the baseline proof is refused: %v", err)
	}
	hmac := func() string {
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte("0123456789abcdef0123456789abcdef")},
			(&jose.SignerOptions{}).WithType(ProofType).WithHeader("kid", "rsa"))
		if err != nil {
			t.Fatal(err)
		}
		obj, _ := signer.Sign([]byte(mustJSON(t, claims(nil))))
		s, _ := obj.CompactSerialize()
		return s
	}()
	tests := []struct {
		name     string
		raw      string
		now      time.Time
		wantKind error
		want     string
	}{
		{name: "garbage", raw: "a.b.c", wantKind: ErrProofMalformed, want: "compact JWS"},
		{name: "oversized", raw: strings.Repeat("a", 17<<10), wantKind: ErrProofMalformed, want: "longer than"},
		{name: "HMAC", raw: hmac, wantKind: ErrProofMalformed, want: "compact JWS"},
		{name: "no typ: a service-account token", raw: proofFor(t, rsaKey, jose.RS256, "rsa", "", claims(nil)), wantKind: ErrProofMalformed, want: "typ header"},
		{name: "typ JWT", raw: proofFor(t, rsaKey, jose.RS256, "rsa", "JWT", claims(nil)), wantKind: ErrProofMalformed, want: "typ header"},
		{name: "no kid", raw: proofFor(t, rsaKey, jose.RS256, "", ProofType, claims(nil)), wantKind: ErrProofMalformed, want: "no kid"},
		{name: "untrusted kid", raw: proofFor(t, rsaKey2, jose.RS256, "other", ProofType, claims(nil)), wantKind: ErrProofSignature, want: `(kid "other")`},
		{name: "trusted kid, other key", raw: proofFor(t, rsaKey2, jose.RS256, "rsa", ProofType, claims(nil)), wantKind: ErrProofSignature, want: "not signed by a key"},
		{name: "alg the key does not name", raw: proofFor(t, ecKey, jose.ES256, "rsa", ProofType, claims(nil)), wantKind: ErrProofSignature, want: "not signed"},
		{name: "wrong iss", raw: proofFor(t, rsaKey, jose.RS256, "rsa", ProofType, claims(func(c map[string]any) { c["iss"], c["sub"] = "https://other/", "https://other/" })), wantKind: ErrProofClaims, want: "iss"},
		{name: "sub is a service account", raw: proofFor(t, rsaKey, jose.RS256, "rsa", ProofType, claims(func(c map[string]any) { c["sub"] = "system:serviceaccount:a:b" })), wantKind: ErrProofClaims, want: "sub must equal its iss"},
		{name: "wrong aud", raw: proofFor(t, rsaKey, jose.RS256, "rsa", ProofType, claims(func(c map[string]any) { c["aud"] = "api://AzureADTokenExchange" })), wantKind: ErrProofAudience, want: aud},
		{name: "aud of another trusted issuer", raw: proofFor(t, rsaKey, jose.RS256, "rsa", ProofType, claims(func(c map[string]any) { c["aud"] = aud + "2" })), wantKind: ErrProofAudience},
		{name: "two audiences", raw: proofFor(t, rsaKey, jose.RS256, "rsa", ProofType, claims(func(c map[string]any) { c["aud"] = []string{aud, "x"} })), wantKind: ErrProofAudience},
		{name: "no exp", raw: proofFor(t, rsaKey, jose.RS256, "rsa", ProofType, claims(func(c map[string]any) { delete(c, "exp") })), wantKind: ErrProofClaims, want: "exp and iat"},
		{name: "no iat", raw: proofFor(t, rsaKey, jose.RS256, "rsa", ProofType, claims(func(c map[string]any) { delete(c, "iat") })), wantKind: ErrProofClaims, want: "exp and iat"},
		{name: "no jti", raw: proofFor(t, rsaKey, jose.RS256, "rsa", ProofType, claims(func(c map[string]any) { delete(c, "jti") })), wantKind: ErrProofClaims, want: "jti"},
		{name: "lifetime over 10 minutes", raw: proofFor(t, rsaKey, jose.RS256, "rsa", ProofType, claims(func(c map[string]any) { c["exp"] = now.Add(11 * time.Minute).Unix() })), wantKind: ErrProofClaims, want: "at most 10m0s"},
		{name: "exp before iat", raw: proofFor(t, rsaKey, jose.RS256, "rsa", ProofType, claims(func(c map[string]any) { c["exp"] = now.Add(-time.Second).Unix() })), wantKind: ErrProofClaims, want: "not after its iat"},
		{name: "iat in the future", raw: good, now: now.Add(-2 * time.Minute), wantKind: ErrProofClaims, want: "future"},
		{name: "nbf in the future", raw: proofFor(t, rsaKey, jose.RS256, "rsa", ProofType, claims(func(c map[string]any) { c["nbf"] = now.Add(3 * time.Minute).Unix() })), wantKind: ErrProofClaims, want: "not valid yet"},
		{name: "expired", raw: good, now: now.Add(5*time.Minute + ProofClockSkew + time.Second), wantKind: ErrProofExpired, want: "expired at 2026-11-29T12:05:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			at := tc.now
			if at.IsZero() {
				at = now
			}
			_, err := VerifyProof(tc.raw, trusted, iss, aud, at)
			var pe *ProofError
			if !errors.As(err, &pe) || !errors.Is(err, tc.wantKind) {
				t.Fatalf("VerifyProof = %v, want a ProofError of kind %v", err, tc.wantKind)
			}
			if !strings.Contains(pe.Error(), tc.want) {
				t.Errorf("message %q lacks %q", pe.Error(), tc.want)
			}
		})
	}
	t.Run("within the clock skew", func(t *testing.T) {
		t.Parallel()
		if _, err := VerifyProof(good, trusted, iss, aud, now.Add(5*time.Minute+ProofClockSkew)); err != nil {
			t.Errorf("just inside the skew after exp: %v", err)
		}
		if _, err := VerifyProof(good, trusted, iss, aud, now.Add(-ProofClockSkew)); err != nil {
			t.Errorf("iat just inside the skew: %v", err)
		}
	})
}
