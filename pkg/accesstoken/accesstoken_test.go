package accesstoken_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/fedcred/fedcred/pkg/accesstoken"
)

const iss = "https://fedcred.test/tid/"

func sign(t *testing.T, key any, alg jose.SignatureAlgorithm, kid string, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestValidate(t *testing.T) {
	t.Parallel()
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Unix(1_800_000_000, 0)
	v, err := accesstoken.NewValidator(accesstoken.Config{
		Issuer: iss, Audiences: []string{"https://vault.azure.net"}, Now: func() time.Time { return now },
		Keys: func(context.Context) (jose.JSONWebKeySet, error) {
			return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	good := func() map[string]any {
		return map[string]any{"iss": iss, "aud": "https://vault.azure.net", "sub": "p1", "oid": "p1", "tid": "tid", "appid": "c1",
			"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "ver": "1.0"}
	}
	with := func(k string, val any) map[string]any { c := good(); c[k] = val; return c }
	without := func(k string) map[string]any { c := good(); delete(c, k); return c }

	c, err := v.Validate(context.Background(), sign(t, key, jose.RS256, "k1", good()))
	if err != nil {
		t.Fatalf("valid token refused: %v", err)
	}
	if c.ObjectID != "p1" || c.AppID != "c1" || c.TenantID != "tid" {
		t.Fatalf("claims = %+v", c)
	}
	tests := []struct {
		name  string
		token string
	}{
		{name: "wrong key", token: sign(t, other, jose.RS256, "k1", good())},
		{name: "unknown kid", token: sign(t, key, jose.RS256, "k2", good())},
		{name: "ES256 not allowed", token: sign(t, ec, jose.ES256, "k1", good())},
		{name: "wrong issuer", token: sign(t, key, jose.RS256, "k1", with("iss", "https://fedcred.test/other/"))},
		{name: "wrong audience", token: sign(t, key, jose.RS256, "k1", with("aud", "https://graph.microsoft.com"))},
		{name: "expired", token: sign(t, key, jose.RS256, "k1", with("exp", now.Add(-3*time.Minute).Unix()))},
		{name: "no exp", token: sign(t, key, jose.RS256, "k1", without("exp"))},
		{name: "not yet valid", token: sign(t, key, jose.RS256, "k1", with("nbf", now.Add(3*time.Minute).Unix()))},
		{name: "no oid", token: sign(t, key, jose.RS256, "k1", without("oid"))},
		{name: "sub is not oid", token: sign(t, key, jose.RS256, "k1", with("sub", "someone-else"))},
		{name: "garbage", token: "a.b.c"},
		{name: "oversized", token: strings.Repeat("a", accesstoken.MaxTokenSize+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := v.Validate(context.Background(), tt.token); !errors.Is(err, accesstoken.ErrInvalidToken) {
				t.Fatalf("Validate = %v, want ErrInvalidToken", err)
			}
		})
	}
	// Within the leeway a just-expired token still passes.
	if _, err := v.Validate(context.Background(), sign(t, key, jose.RS256, "k1", with("exp", now.Add(-time.Minute).Unix()))); err != nil {
		t.Fatalf("token inside the leeway refused: %v", err)
	}
}

func TestUnverifiedTenant(t *testing.T) {
	t.Parallel()
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	tid, err := accesstoken.UnverifiedTenant(sign(t, key, jose.RS256, "k", map[string]any{"tid": "abc"}))
	if err != nil || tid != "abc" {
		t.Fatalf("UnverifiedTenant = %q, %v", tid, err)
	}
	if _, err := accesstoken.UnverifiedTenant(sign(t, key, jose.RS256, "k", map[string]any{})); err == nil {
		t.Fatal("token without tid accepted")
	}
}
