package sts

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/fedcred/fedcred/internal/store"
)

// FuzzSignedAssertion signs an arbitrary JOSE header and arbitrary claims
// with the issuer's own key, so that what is fuzzed is everything after the
// signature: header checks, claim types and sizes, time, and matching. An
// accepted assertion has a plain RS256 header without extensions, claims
// that match the credential exactly (read case-sensitively), an exp, and a
// validity window and lifetime within the documented bounds.
func FuzzSignedAssertion(f *testing.F) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		f.Fatal(err)
	}
	const iss, sub, aud = "https://issuer.example/", "system:serviceaccount:ns:sa", "api://AzureADTokenExchange"
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	h := &Handler{
		issuers: staticKeys{iss: iss, set: jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Use: "sig"}}}},
		now:     func() time.Time { return now },
	}
	cl := client{identity: &store.Identity{}, fics: []store.FederatedCredential{{Name: "f1", Issuer: iss, Subject: sub, Audiences: []string{aud}}}}
	sign := func(header, claims string) string {
		input := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(claims))
		sum := sha256.Sum256([]byte(input))
		sig, _ := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
		return input + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
	claims := func(edits map[string]any) string {
		c := map[string]any{"iss": iss, "sub": sub, "aud": aud, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		for k, v := range edits {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		data, _ := json.Marshal(c)
		return string(data)
	}
	const header = `{"alg":"RS256","kid":"k1","typ":"JWT"}`
	if fic, e := h.verifyAssertion(context.Background(), sign(header, claims(nil)), cl); e != nil || fic != "f1" {
		f.Fatalf("seed assertion refused: %v", e)
	}
	for _, seed := range []struct{ header, claims string }{
		{header, claims(nil)},
		{`{"alg":"RS256"}`, claims(map[string]any{"aud": []string{"x", aud}})},
		{`{"alg":"RS256","kid":"k1","crit":["b64"],"b64":true}`, claims(nil)},
		{`{"alg":"RS256","kid":"k1","crit":[]}`, claims(nil)},
		{`{"alg":"RS256","kid":"k1","crit":["exp"],"exp":1}`, claims(nil)},
		{`{"alg":"RS256","kid":"k1","jwk":{"kty":"oct","k":"c2VjcmV0"}}`, claims(nil)},
		{`{"alg":"RS256","kid":"../k1","jku":"https://127.0.0.1/"}`, claims(nil)},
		{`{"alg":"PS256","kid":"k1"}`, claims(nil)},
		{`{"alg":"none"}`, claims(nil)},
		{header, claims(map[string]any{"aud": map[string]any{"a": aud}})},
		{header, claims(map[string]any{"sub": 1})},
		{header, claims(map[string]any{"iss": []string{iss}})},
		{header, claims(map[string]any{"exp": "9999999999"})},
		{header, claims(map[string]any{"exp": nil})},
		{header, claims(map[string]any{"exp": now.Add(26 * time.Hour).Unix()})},
		{header, claims(map[string]any{"nbf": nil, "iat": now.AddDate(0, 1, 0).Unix(), "exp": now.AddDate(0, 1, 0).Add(time.Hour).Unix()})},
		{header, claims(map[string]any{"nbf": now.Add(10 * time.Minute).Unix()})},
		{header, claims(map[string]any{"exp": 1.5e18, "iat": 1.5e18})},
		{header, claims(map[string]any{"sub": strings.ToUpper(sub)})},
		{header, claims(map[string]any{"sub": nil, "Sub": sub})},
		{header, strings.Replace(claims(nil), `"sub":`, `"sub":"x","sub":`, 1)},
		{header, claims(map[string]any{"sub": strings.Repeat("s", 700)})},
	} {
		f.Add(seed.header, seed.claims)
	}
	allowed := map[int]bool{50027: true, 700211: true, 700212: true, 700213: true, 7002138: true, 700024: true, 70023: true}
	f.Fuzz(func(t *testing.T, header, claims string) {
		fic, e := h.verifyAssertion(context.Background(), sign(header, claims), cl)
		if e != nil {
			if !allowed[e.Code] {
				t.Fatalf("unexpected refusal AADSTS%d: %v", e.Code, e)
			}
			return
		}
		if fic != "f1" {
			t.Fatalf("accepted with credential %q", fic)
		}
		var hdr map[string]any
		if err := json.Unmarshal([]byte(header), &hdr); err != nil {
			t.Fatalf("accepted a header that is not a JSON object: %q", header)
		}
		if hdr["alg"] != "RS256" {
			t.Fatalf("accepted alg %v signed with RS256", hdr["alg"])
		}
		for _, ext := range []string{"crit", "b64"} {
			if _, ok := hdr[ext]; ok {
				t.Fatalf("accepted a header with %q: %s", ext, header)
			}
		}
		var c map[string]json.RawMessage
		if err := json.Unmarshal([]byte(claims), &c); err != nil {
			t.Fatalf("accepted claims that are not a JSON object: %q", claims)
		}
		var gotIss, gotSub string
		var gotAud any
		if json.Unmarshal(c["iss"], &gotIss) != nil || gotIss != iss || json.Unmarshal(c["sub"], &gotSub) != nil || gotSub != sub {
			t.Fatalf("accepted iss %s, sub %s", c["iss"], c["sub"])
		}
		if json.Unmarshal(c["aud"], &gotAud) != nil {
			t.Fatalf("accepted aud %s", c["aud"])
		}
		switch a := gotAud.(type) {
		case string:
			if a != aud {
				t.Fatalf("accepted aud %q", a)
			}
		case []any:
			if !slices.Contains(a, any(aud)) {
				t.Fatalf("accepted aud %v", a)
			}
		default:
			t.Fatalf("accepted aud %s", c["aud"])
		}
		seconds := func(name string) (time.Time, bool) {
			var v float64
			if c[name] == nil || json.Unmarshal(c[name], &v) != nil {
				return time.Time{}, false
			}
			return time.Unix(int64(v), 0), true
		}
		exp, ok := seconds("exp")
		if !ok || !exp.After(now.Add(-clockSkew)) {
			t.Fatalf("accepted exp %s at %v", c["exp"], now)
		}
		start := now
		if nbf, ok := seconds("nbf"); ok {
			if nbf.After(now.Add(clockSkew)) {
				t.Fatalf("accepted nbf %v at %v", nbf, now)
			}
			start = nbf
		}
		if iat, ok := seconds("iat"); ok {
			if iat.After(now.Add(clockSkew)) {
				t.Fatalf("accepted iat %v at %v", iat, now)
			}
			start = iat
		}
		if exp.Sub(start) > maxAssertionLifetime {
			t.Fatalf("accepted a lifetime of %v", exp.Sub(start))
		}
		if exp.After(now.Add(clockSkew + maxAssertionLifetime)) {
			t.Fatalf("accepted exp %v, beyond now + skew + lifetime", exp)
		}
	})
}
