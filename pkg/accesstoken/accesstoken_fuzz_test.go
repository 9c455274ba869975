package accesstoken_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/fedcred/fedcred/pkg/accesstoken"
)

// fuzzRig is a Validator over one RSA key, and what it must accept.
type fuzzRig struct {
	key *rsa.PrivateKey
	v   *accesstoken.Validator
	now time.Time
}

const fuzzAudience = "https://vault.azure.net"

func newFuzzRig(f *testing.F) fuzzRig {
	f.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	v, err := accesstoken.NewValidator(accesstoken.Config{
		Issuer: iss, Audiences: []string{fuzzAudience}, Now: func() time.Time { return now },
		Keys: func(context.Context) (jose.JSONWebKeySet, error) {
			return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}}, nil
		},
	})
	if err != nil {
		f.Fatal(err)
	}
	return fuzzRig{key: key, v: v, now: now}
}

// signRaw signs header and claims, both raw JSON text, with RS256.
func (r fuzzRig) signRaw(header, claims string) string {
	input := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(claims))
	sum := sha256.Sum256([]byte(input))
	sig, _ := rsa.SignPKCS1v15(rand.Reader, r.key, crypto.SHA256, sum[:])
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func (r fuzzRig) goodClaims() string {
	data, _ := json.Marshal(map[string]any{"iss": iss, "aud": fuzzAudience, "sub": "p1", "oid": "p1", "tid": "tid", "appid": "c1",
		"iat": r.now.Unix(), "nbf": r.now.Unix(), "exp": r.now.Add(time.Hour).Unix(), "ver": "1.0"})
	return string(data)
}

// checkRefusal fails t unless err is a TokenError with a short reason: the
// key source never fails, so no other error may come back.
func checkRefusal(t *testing.T, err error) {
	t.Helper()
	var te *accesstoken.TokenError
	if !errors.As(err, &te) || !errors.Is(err, accesstoken.ErrInvalidToken) || te.Reason == "" {
		t.Fatalf("refusal %v is not a TokenError", err)
	}
}

// FuzzValidate feeds arbitrary strings to Validate: it never panics, and it
// accepts only what the issuer's key signed.
func FuzzValidate(f *testing.F) {
	r := newFuzzRig(f)
	good := r.signRaw(`{"alg":"RS256","kid":"k1"}`, r.goodClaims())
	if _, err := r.v.Validate(context.Background(), good); err != nil {
		f.Fatalf("seed token refused: %v", err)
	}
	for _, seed := range []string{
		good,
		good[:len(good)-3],
		strings.Replace(good, ".", "..", 1),
		"eyJhbGciOiJub25lIn0." + strings.Split(good, ".")[1] + ".",
		"eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIn0." + strings.Split(good, ".")[1] + ".c2ln",
		"e30.e30.e30",
		"a.b.c.d.e",
		"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		c, err := r.v.Validate(context.Background(), token)
		if err != nil {
			checkRefusal(t, err)
			return
		}
		// Accepted: it must verify with the key on its own.
		sig, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.RS256})
		if err != nil {
			t.Fatalf("accepted %q, which is not an RS256 compact JWS: %v", token, err)
		}
		if _, err := sig.Verify(&r.key.PublicKey); err != nil {
			t.Fatalf("accepted %q, which the key did not sign", token)
		}
		if c.Issuer != iss || c.Audience != fuzzAudience || c.ObjectID == "" {
			t.Fatalf("accepted claims %+v", c)
		}
	})
}

// FuzzValidateSignedClaims signs arbitrary claims with the issuer's key, so
// that the claim checks are what is fuzzed: an accepted token has the
// issuer, an accepted audience, a tenant and an object ID equal to sub, and
// is within its validity window.
func FuzzValidateSignedClaims(f *testing.F) {
	r := newFuzzRig(f)
	f.Add(r.goodClaims())
	for _, edit := range []func(map[string]any){
		func(c map[string]any) { c["aud"] = []string{fuzzAudience} },
		func(c map[string]any) { c["aud"] = map[string]any{"x": fuzzAudience} },
		func(c map[string]any) { c["exp"] = "1800003600" },
		func(c map[string]any) { delete(c, "exp") },
		func(c map[string]any) { c["nbf"] = r.now.Add(time.Hour).Unix() },
		func(c map[string]any) { c["sub"] = "P1" },
		func(c map[string]any) { c["iss"] = strings.ToUpper(iss) },
		func(c map[string]any) { c["exp"] = 1e300 },
	} {
		c := map[string]any{}
		_ = json.Unmarshal([]byte(r.goodClaims()), &c)
		edit(c)
		data, _ := json.Marshal(c)
		f.Add(string(data))
	}
	f.Add(`{"iss":"` + iss + `","iss":"x"}`)
	f.Fuzz(func(t *testing.T, claims string) {
		c, err := r.v.Validate(context.Background(), r.signRaw(`{"alg":"RS256","kid":"k1"}`, claims))
		if err != nil {
			checkRefusal(t, err)
			return
		}
		leeway := accesstoken.DefaultLeeway
		switch {
		case c.Issuer != iss:
			t.Fatalf("accepted issuer %q", c.Issuer)
		case !slices.Contains([]string{fuzzAudience}, c.Audience):
			t.Fatalf("accepted audience %q", c.Audience)
		case c.TenantID == "" || c.ObjectID == "" || !strings.EqualFold(c.ObjectID, c.Subject):
			t.Fatalf("accepted without tid, oid or with sub %q != oid %q", c.Subject, c.ObjectID)
		case c.Expiry == 0 || r.now.Add(-leeway).After(time.Unix(c.Expiry, 0)):
			t.Fatalf("accepted exp %d at %d", c.Expiry, r.now.Unix())
		case c.NotBefore != 0 && r.now.Add(leeway).Before(time.Unix(c.NotBefore, 0)):
			t.Fatalf("accepted nbf %d at %d", c.NotBefore, r.now.Unix())
		}
		// What was accepted is what the JSON says, read case-sensitively.
		var exact map[string]json.RawMessage
		if err := json.Unmarshal([]byte(claims), &exact); err != nil {
			t.Fatalf("accepted claims that are not a JSON object: %v", err)
		}
		var gotIss string
		if err := json.Unmarshal(exact["iss"], &gotIss); err != nil || gotIss != iss {
			t.Fatalf("accepted claims whose exact 'iss' member is %s", exact["iss"])
		}
	})
}
