package accesstoken_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/fedcred/fedcred/pkg/accesstoken"
)

func TestMiddleware(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	forger, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}}
	newValidator := func(keys accesstoken.KeySource) *accesstoken.Validator {
		v, err := accesstoken.NewValidator(accesstoken.Config{Issuer: iss, Audiences: []string{"api://orders"}, Keys: keys, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	good := newValidator(func(context.Context) (jose.JSONWebKeySet, error) { return set, nil })
	broken := newValidator(func(context.Context) (jose.JSONWebKeySet, error) {
		return jose.JSONWebKeySet{}, accesstoken.ErrKeysUnavailable
	})
	claims := func(edit func(map[string]any)) map[string]any {
		c := map[string]any{"iss": iss, "aud": "api://orders", "sub": "p1", "oid": "p1", "tid": "tid", "appid": "c1",
			"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "roles": []string{"Orders.Read"}}
		if edit != nil {
			edit(c)
		}
		return c
	}
	valid := sign(t, key, jose.RS256, "k1", claims(nil))
	noRole := sign(t, key, jose.RS256, "k1", claims(func(c map[string]any) { delete(c, "roles") }))
	otherRole := sign(t, key, jose.RS256, "k1", claims(func(c map[string]any) { c["roles"] = []string{"Orders.Write", "orders.read"} }))

	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := accesstoken.FromContext(r.Context())
		if !ok {
			t.Error("handler reached without claims in the context")
			return
		}
		_, _ = w.Write([]byte(c.ObjectID))
	})
	protected := func(v *accesstoken.Validator) http.Handler {
		return accesstoken.Middleware(v)(accesstoken.RequireRole("Orders.Read")(inner))
	}

	tests := []struct {
		name          string
		handler       http.Handler
		authorization string
		wantStatus    int
		wantChallenge string // exact WWW-Authenticate
		wantBody      string // substring
	}{
		{name: "valid token with the role", handler: protected(good), authorization: "Bearer " + valid,
			wantStatus: http.StatusOK, wantBody: "p1"},
		{name: "scheme is case-insensitive", handler: protected(good), authorization: "bearer " + valid,
			wantStatus: http.StatusOK, wantBody: "p1"},
		{name: "no authorization header", handler: protected(good),
			wantStatus: http.StatusUnauthorized, wantChallenge: "Bearer", wantBody: "bearer token required"},
		{name: "basic credentials", handler: protected(good), authorization: "Basic dXNlcjpwdw==",
			wantStatus: http.StatusUnauthorized, wantChallenge: "Bearer"},
		{name: "empty bearer", handler: protected(good), authorization: "Bearer ",
			wantStatus: http.StatusUnauthorized, wantChallenge: "Bearer"},
		{name: "garbage token", handler: protected(good), authorization: "Bearer not.a.jwt",
			wantStatus: http.StatusUnauthorized, wantChallenge: `Bearer error="invalid_token", error_description="malformed token"`},
		{name: "forged signature", handler: protected(good), authorization: "Bearer " + sign(t, forger, jose.RS256, "k1", claims(nil)),
			wantStatus: http.StatusUnauthorized, wantChallenge: `Bearer error="invalid_token", error_description="invalid signature"`},
		{name: "expired", handler: protected(good),
			authorization: "Bearer " + sign(t, key, jose.RS256, "k1", claims(func(c map[string]any) { c["exp"] = now.Add(-time.Hour).Unix() })),
			wantStatus:    http.StatusUnauthorized, wantChallenge: `Bearer error="invalid_token", error_description="token expired"`},
		{name: "wrong audience, not echoed", handler: protected(good),
			authorization: "Bearer " + sign(t, key, jose.RS256, "k1", claims(func(c map[string]any) { c["aud"] = `api://x", error="none` })),
			wantStatus:    http.StatusUnauthorized, wantChallenge: `Bearer error="invalid_token", error_description="invalid audience"`},
		{name: "no role", handler: protected(good), authorization: "Bearer " + noRole,
			wantStatus: http.StatusForbidden, wantChallenge: `Bearer error="insufficient_scope", error_description="required role missing"`},
		{name: "other roles only, case differs", handler: protected(good), authorization: "Bearer " + otherRole,
			wantStatus: http.StatusForbidden, wantChallenge: `Bearer error="insufficient_scope", error_description="required role missing"`},
		{name: "keys unavailable", handler: protected(broken), authorization: "Bearer " + valid,
			wantStatus: http.StatusServiceUnavailable, wantBody: "temporarily_unavailable"},
		{name: "role check without the middleware stays closed", handler: accesstoken.RequireRole("Orders.Read")(inner),
			authorization: "Bearer " + valid, wantStatus: http.StatusUnauthorized, wantChallenge: "Bearer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodGet, "/orders", nil)
			if tt.authorization != "" {
				req.Header.Set("Authorization", tt.authorization)
			}
			rec := httptest.NewRecorder()
			tt.handler.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != tt.wantChallenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.wantChallenge)
			}
			if !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("body = %q, want it to contain %q", rec.Body, tt.wantBody)
			}
			if rec.Code != http.StatusOK {
				var body map[string]string
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["error"] == "" {
					t.Errorf("error body = %q, want JSON with an error member", rec.Body)
				}
				if strings.Contains(rec.Body.String(), "api://x") {
					t.Errorf("error body echoes the token's audience: %s", rec.Body)
				}
			}
		})
	}
}

func TestTokenError(t *testing.T) {
	t.Parallel()
	_, err := accesstoken.UnverifiedTenant("x")
	var te *accesstoken.TokenError
	if !errors.As(err, &te) || !errors.Is(err, accesstoken.ErrInvalidToken) || te.Reason != accesstoken.ReasonMalformed {
		t.Fatalf("UnverifiedTenant(garbage) = %v, want a TokenError with reason %q", err, accesstoken.ReasonMalformed)
	}
}
