package issuer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/fedcred/fedcred/internal/issuer"
	"github.com/fedcred/fedcred/internal/keys"
	"github.com/fedcred/fedcred/internal/store"
	"github.com/fedcred/fedcred/internal/store/sqlite"
)

const publicURL = "https://fedcred.test:8443"

type rig struct {
	svc     *issuer.Service
	store   store.Store
	mux     *http.ServeMux
	cluster store.Cluster
	now     time.Time
}

func newRig(t *testing.T, enabled bool) *rig {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "i.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	sealer, _ := keys.NewSealer(bytes.Repeat([]byte{3}, keys.KEKSize))
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	km, _ := keys.NewManager(keys.Config{Store: s, Sealer: sealer, Now: func() time.Time { return now }})
	svc, err := issuer.New(issuer.Config{Store: s, Keys: km, PublicURL: publicURL, Now: func() time.Time { return now }, NewUUID: func() string { return "jti-1" }})
	if err != nil {
		t.Fatal(err)
	}
	c := store.Cluster{SubscriptionID: "sub", ResourceGroup: "rg", Name: "c1", TenantID: "72f988bf-0000-0000-0000-000000000001",
		UID: "0d9c3e0a-1111-4222-8333-444455556666", OIDCIssuerEnabled: enabled}
	if err := s.Update(ctx, func(tx store.Tx) error { return store.Create(ctx, tx, c) }); err != nil {
		t.Fatal(err)
	}
	if err := svc.PrepareKeys(ctx, c); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	svc.Mount(mux)
	return &rig{svc: svc, store: s, mux: mux, cluster: c, now: now}
}

func (r *rig) get(t *testing.T, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	r.mux.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec
}

func TestIssuerOffUntilEnabled(t *testing.T) {
	t.Parallel()
	r := newRig(t, false)
	iss := r.svc.IssuerURL(r.cluster)
	path := strings.TrimPrefix(iss, publicURL)
	for _, p := range []string{issuer.DiscoveryPath, issuer.JWKSPath} {
		if rec := r.get(t, path+p); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s on a disabled issuer = %d, want 404", p, rec.Code)
		}
	}
	if _, err := r.svc.KeysFor(context.Background(), iss); !errors.Is(err, issuer.ErrUnknownIssuer) {
		t.Errorf("KeysFor(disabled) = %v, want ErrUnknownIssuer", err)
	}
}

func TestDiscoveryAndJWKS(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	iss := r.svc.IssuerURL(r.cluster)
	if want := publicURL + "/oidc/72f988bf-0000-0000-0000-000000000001/0d9c3e0a-1111-4222-8333-444455556666/"; iss != want {
		t.Fatalf("issuer = %s, want %s", iss, want)
	}
	path := strings.TrimPrefix(iss, publicURL)
	rec := r.get(t, path+issuer.DiscoveryPath)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" || rec.Header().Get("Cache-Control") != "public, max-age=3600" {
		t.Fatalf("discovery: %d %v", rec.Code, rec.Header())
	}
	want := `{"issuer":"` + iss + `","jwks_uri":"` + iss + `openid/v1/jwks","response_types_supported":["id_token"],"subject_types_supported":["public"],"id_token_signing_alg_values_supported":["RS256"]}`
	if got := rec.Body.String(); got != want {
		t.Fatalf("discovery =\n%s\nwant\n%s", got, want)
	}
	rec = r.get(t, path+issuer.JWKSPath)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/jwk-set+json" {
		t.Fatalf("jwks: %d %v", rec.Code, rec.Header())
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(rec.Body.Bytes(), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 2 {
		t.Fatalf("jwks has %d keys, want active + next", len(set.Keys))
	}
	for _, k := range set.Keys {
		if k.Use != "sig" || k.Algorithm != "RS256" || !k.IsPublic() {
			t.Fatalf("bad jwk %+v", k)
		}
	}

	exp := int64(7200)
	tok, expires, err := r.svc.MintToken(context.Background(), r.cluster, "pets", "ai-svc", issuer.TokenRequestSpec{
		Audiences: []string{"api://AzureADTokenExchange"}, ExpirationSeconds: &exp,
		BoundObjectRef: &issuer.BoundObjectRef{Kind: "Pod", Name: "p1", UID: "pod-uid"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !expires.Equal(r.now.Add(2 * time.Hour)) {
		t.Fatalf("expires = %v", expires)
	}
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	if _, hasTyp := parsed.Headers[0].ExtraHeaders["typ"]; hasTyp {
		t.Error("service-account token header has typ; kube-apiserver writes none")
	}
	keysByID := set.Key(parsed.Headers[0].KeyID)
	if len(keysByID) != 1 {
		t.Fatal("token kid not in the issuer's JWKS")
	}
	var claims map[string]any
	if err := parsed.Claims(keysByID[0].Key, &claims); err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(claims)
	wantClaims := `{"aud":["api://AzureADTokenExchange"],"exp":1795953600,"iat":1795946400,"iss":"` + iss + `","jti":"jti-1","kubernetes.io":{"namespace":"pets","pod":{"name":"p1","uid":"pod-uid"},"serviceaccount":{"name":"ai-svc","uid":"` +
		issuer.ServiceAccountUID(r.cluster.UID, "pets", "ai-svc") + `"}},"nbf":1795946400,"sub":"system:serviceaccount:pets:ai-svc"}`
	if string(got) != wantClaims {
		t.Fatalf("claims =\n%s\nwant\n%s", got, wantClaims)
	}
}

func TestURLBoundaries(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	path := strings.TrimPrefix(r.svc.IssuerURL(r.cluster), publicURL)
	for _, p := range []string{
		path + ".well-known/openid-configuration/extra",
		path + "openid/v1/jwks/x",
		"/oidc/00000000-0000-0000-0000-000000000000/" + r.cluster.UID + "/" + issuer.DiscoveryPath, // other tenant
		"/oidc/" + r.cluster.TenantID + "/not-a-uuid/" + issuer.DiscoveryPath,
		"/oidc/" + r.cluster.TenantID + "/" + issuer.DiscoveryPath,
	} {
		if rec := r.get(t, p); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", p, rec.Code)
		}
	}
	for _, iss := range []string{
		strings.TrimSuffix(r.svc.IssuerURL(r.cluster), "/"), // no trailing slash
		strings.ToUpper(r.svc.IssuerURL(r.cluster)),
		"https://elsewhere.example/oidc/" + r.cluster.TenantID + "/" + r.cluster.UID + "/",
	} {
		if _, err := r.svc.KeysFor(context.Background(), iss); !errors.Is(err, issuer.ErrUnknownIssuer) {
			t.Errorf("KeysFor(%s) = %v, want ErrUnknownIssuer", iss, err)
		}
	}
}

func TestMintTokenValidation(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	n := func(v int64) *int64 { return &v }
	tests := []struct {
		name      string
		namespace string
		sa        string
		spec      issuer.TokenRequestSpec
		wantErr   string
	}{
		{name: "too short", namespace: "ns", sa: "sa", spec: issuer.TokenRequestSpec{ExpirationSeconds: n(599)}, wantErr: "less than 10 minutes"},
		{name: "too long", namespace: "ns", sa: "sa", spec: issuer.TokenRequestSpec{ExpirationSeconds: n(1 << 33)}, wantErr: "larger than 2^32"},
		{name: "bad namespace", namespace: "Pets", sa: "sa", wantErr: "namespace"},
		{name: "bad service account", namespace: "ns", sa: "a b", wantErr: "service account"},
		{name: "bad bound kind", namespace: "ns", sa: "sa", spec: issuer.TokenRequestSpec{BoundObjectRef: &issuer.BoundObjectRef{Kind: "Deployment", Name: "x"}}, wantErr: "boundObjectRef.kind"},
		{name: "empty audience", namespace: "ns", sa: "sa", spec: issuer.TokenRequestSpec{Audiences: []string{""}}, wantErr: "audiences[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := r.svc.MintToken(context.Background(), r.cluster, tt.namespace, tt.sa, tt.spec)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
			}
		})
	}
	// Lifetimes over 24 h are shortened, as AKS does; no audience means the issuer.
	tok, exp, err := r.svc.MintToken(context.Background(), r.cluster, "ns", "sa", issuer.TokenRequestSpec{ExpirationSeconds: n(200000)})
	if err != nil {
		t.Fatal(err)
	}
	if !exp.Equal(r.now.Add(24 * time.Hour)) {
		t.Errorf("expiry = %v, want capped at 24h", exp)
	}
	parsed, _ := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
	var c jwt.Claims
	_ = parsed.UnsafeClaimsWithoutVerification(&c)
	if len(c.Audience) != 1 || c.Audience[0] != r.svc.IssuerURL(r.cluster) {
		t.Errorf("default audience = %v, want the issuer", c.Audience)
	}
}

func TestRotationKeepsOldTokensValid(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	ctx := context.Background()
	iss := r.svc.IssuerURL(r.cluster)
	before, _, err := r.svc.MintToken(ctx, r.cluster, "ns", "sa", issuer.TokenRequestSpec{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.svc.RotateKeys(ctx, r.cluster); err != nil {
		t.Fatal(err)
	}
	after, _, err := r.svc.MintToken(ctx, r.cluster, "ns", "sa", issuer.TokenRequestSpec{})
	if err != nil {
		t.Fatal(err)
	}
	set, err := r.svc.KeysFor(ctx, iss)
	if err != nil {
		t.Fatal(err)
	}
	kidOf := func(tok string) string {
		p, _ := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
		return p.Headers[0].KeyID
	}
	if kidOf(before) == kidOf(after) {
		t.Fatal("rotation did not change the signing key")
	}
	for _, tok := range []string{before, after} {
		if len(set.Key(kidOf(tok))) != 1 {
			t.Fatalf("key %s not published after rotation", kidOf(tok))
		}
	}
}
