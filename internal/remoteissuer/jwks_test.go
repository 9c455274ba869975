package remoteissuer

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

func newRSA(t *testing.T, bits int) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newEC(t *testing.T, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// jwkMap renders k as a JSON object to edit.
func jwkMap(t *testing.T, k jose.JSONWebKey) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(mustJSON(t, k)), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func publicJWK(t *testing.T, pub any, kid, alg string) map[string]any {
	t.Helper()
	return jwkMap(t, jose.JSONWebKey{Key: pub, KeyID: kid, Algorithm: alg, Use: "sig"})
}

func privateJWK(t *testing.T, priv any, kid string) map[string]any {
	t.Helper()
	return jwkMap(t, jose.JSONWebKey{Key: priv, KeyID: kid, Use: "sig"})
}

// with returns a copy of m with the given members set (nil deletes).
func with(m map[string]any, kv ...any) map[string]any {
	c := maps.Clone(m)
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(c, kv[i].(string))
		} else {
			c[kv[i].(string)] = kv[i+1]
		}
	}
	return c
}

func jwksDoc(t *testing.T, keys ...any) document {
	t.Helper()
	return document{url: "https://issuer.example/jwks", body: []byte(mustJSON(t, map[string]any{"keys": keys}))}
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	rsa2048 := newRSA(t, 2048)
	rsa1024 := newRSA(t, 1024)
	p256, p384, p521 := newEC(t, elliptic.P256()), newEC(t, elliptic.P384()), newEC(t, elliptic.P521())
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey := publicJWK(t, rsa2048.Public(), "rsa", "RS256")
	ecKey := publicJWK(t, p256.Public(), "ec", "ES256")

	tests := []struct {
		name        string
		key         any
		wantUsable  bool
		wantProblem string
		wantPrivate bool
	}{
		{name: "RSA 2048 RS256", key: rsaKey, wantUsable: true},
		{name: "RSA without use", key: with(rsaKey, "use", nil), wantUsable: true},
		{name: "RSA without alg", key: with(rsaKey, "alg", nil), wantUsable: true},
		{name: "RSA PS256", key: with(rsaKey, "alg", "PS256"), wantUsable: true},
		{name: "RSA with key_ops verify", key: with(rsaKey, "key_ops", []string{"verify"}), wantUsable: true},
		{name: "RSA 1024 bits", key: publicJWK(t, rsa1024.Public(), "short", "RS256"), wantProblem: "RSA key of 1024 bits"},
		{name: "RSA naming HS256", key: with(rsaKey, "alg", "HS256"), wantProblem: `alg "HS256" does not fit an RSA key`},
		{name: "RSA naming none", key: with(rsaKey, "alg", "none"), wantProblem: `alg "none" does not fit`},
		{name: "RSA for encryption", key: with(rsaKey, "use", "enc"), wantProblem: `use "enc" is not "sig"`},
		{name: "RSA with key_ops encrypt", key: with(rsaKey, "key_ops", []string{"encrypt"}), wantProblem: `does not include "verify"`},
		{name: "RSA with a bad modulus", key: with(rsaKey, "n", "!!"), wantProblem: "invalid RSA key"},
		{name: "RSA without an exponent", key: with(rsaKey, "e", nil), wantProblem: "invalid RSA key"},
		{name: "EC P-256 ES256", key: ecKey, wantUsable: true},
		{name: "EC P-256 without alg", key: with(ecKey, "alg", nil), wantUsable: true},
		{name: "EC P-384 ES384", key: publicJWK(t, p384.Public(), "p384", "ES384"), wantUsable: true},
		{name: "EC P-521", key: publicJWK(t, p521.Public(), "p521", "ES512"), wantProblem: "curve P-521 unsupported"},
		{name: "EC P-256 naming ES384", key: with(ecKey, "alg", "ES384"), wantProblem: `alg "ES384" does not fit a P-256 key`},
		{name: "EC point not on the curve", key: with(ecKey, "x", ecKey["y"]), wantProblem: "invalid EC key"},
		{name: "symmetric key", key: map[string]any{"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}, wantProblem: "symmetric key"},
		{name: "Ed25519 key", key: publicJWK(t, edPub, "ed", "EdDSA"), wantProblem: `key type "OKP" unsupported`},
		{name: "RSA private key", key: privateJWK(t, rsa2048, "leaked"), wantProblem: "private key material", wantPrivate: true},
		{name: "EC private key", key: privateJWK(t, p256, "leaked-ec"), wantProblem: "private key material", wantPrivate: true},
		{name: "public key with a stray d member", key: with(rsaKey, "d", "AQAB"), wantProblem: "private key material", wantPrivate: true},
		{name: "missing kty", key: with(rsaKey, "kty", nil), wantProblem: "kty is missing"},
		{name: "kid that is not a string", key: with(rsaKey, "kid", 7), wantProblem: "not a JSON object"},
		{name: "not an object", key: "RSA", wantProblem: "not a JSON object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			info, key, private := parseKey(json.RawMessage(mustJSON(t, tc.key)))
			if info.Usable != tc.wantUsable {
				t.Fatalf("usable = %v (problem %q), want %v", info.Usable, info.Problem, tc.wantUsable)
			}
			if private != tc.wantPrivate {
				t.Errorf("private = %v, want %v", private, tc.wantPrivate)
			}
			if tc.wantUsable {
				if info.Problem != "" || key.Key == nil || !key.IsPublic() {
					t.Errorf("usable key: problem %q, key %T public %v", info.Problem, key.Key, key.IsPublic())
				}
				return
			}
			if !strings.Contains(info.Problem, tc.wantProblem) {
				t.Errorf("problem = %q, want it to mention %q", info.Problem, tc.wantProblem)
			}
			if key.Key != nil {
				t.Errorf("unusable key returned a %T", key.Key)
			}
		})
	}
}

func TestParseJWKS(t *testing.T) {
	t.Parallel()
	good := publicJWK(t, newRSA(t, 2048).Public(), "good", "RS256")
	oct := map[string]any{"kty": "oct", "k": "c2VjcmV0"}
	many := func(n int, key func(i int) any) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = key(i)
		}
		return out
	}
	tests := []struct {
		name       string
		doc        document
		wantErr    error
		wantKids   []string
		wantInfos  int
		wantTotal  int
		wantUsable int
	}{
		{name: "one usable among refused ones", doc: jwksDoc(t, oct, good, with(good, "kid", "enc", "use", "enc")),
			wantKids: []string{"good"}, wantInfos: 3, wantTotal: 3, wantUsable: 1},
		{name: "only the first 100 keys count", doc: jwksDoc(t, append(many(100, func(int) any { return oct }), good)...),
			wantErr: ErrBadKeys, wantInfos: 100, wantTotal: 101},
		{name: "the hundredth key counts", doc: jwksDoc(t, append(many(99, func(int) any { return oct }), good)...),
			wantKids: []string{"good"}, wantInfos: 100, wantTotal: 100, wantUsable: 1},
		{name: "150 usable keys are cut to 100", doc: jwksDoc(t, many(150, func(i int) any { return with(good, "kid", fmt.Sprint(i)) })...),
			wantInfos: 100, wantTotal: 150, wantUsable: 100},
		{name: "null keys", doc: document{body: []byte(`{"keys":null}`)}, wantErr: ErrBadKeys},
		{name: "keys not an array", doc: document{body: []byte(`{"keys":{}}`)}, wantErr: ErrBadKeys},
		{name: "a single JWK instead of a set", doc: document{body: []byte(mustJSON(t, good))}, wantErr: ErrBadKeys},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ks, err := parseJWKS(tc.doc)
			if !errorsIs(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantKids != nil && !slices.Equal(kids(ks.usable), tc.wantKids) {
				t.Errorf("kids = %q, want %q", kids(ks.usable), tc.wantKids)
			}
			if len(ks.infos) != tc.wantInfos || ks.total != tc.wantTotal {
				t.Errorf("infos = %d, total = %d; want %d and %d", len(ks.infos), ks.total, tc.wantInfos, tc.wantTotal)
			}
			if len(ks.usable.Keys) != tc.wantUsable {
				t.Errorf("%d usable keys, want %d", len(ks.usable.Keys), tc.wantUsable)
			}
		})
	}
}
