package sts_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/fedcred/fedcred/internal/issuer"
	"github.com/fedcred/fedcred/internal/keys"
	"github.com/fedcred/fedcred/internal/store"
	"github.com/fedcred/fedcred/internal/store/mirror"
	"github.com/fedcred/fedcred/internal/store/sqlite"
	"github.com/fedcred/fedcred/internal/sts"
	"github.com/fedcred/fedcred/internal/trust"
)

// BenchmarkTokenExchange measures one federated token exchange through the
// handler, on the server's real read path (the in-memory mirror over
// SQLite): parse, look up client and credentials, verify the assertion,
// sign the access token; for a built-in resource and for an application
// found among many by identifier URI, with its roles among many
// assignments. Compare with BenchmarkExchangeFloor, the one
// signature verification and one signature every exchange must do:
//
//	go test -run '^$' -bench 'TokenExchange|ExchangeFloor' ./internal/sts
func BenchmarkTokenExchange(b *testing.B) {
	ctx := context.Background()
	backend, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer backend.Close()
	st, err := mirror.New(ctx, mirror.Config{Backend: backend})
	if err != nil {
		b.Fatal(err)
	}
	sealer, _ := keys.NewSealer(bytes.Repeat([]byte{1}, keys.KEKSize))
	km, _ := keys.NewManager(keys.Config{Store: st, Sealer: sealer})
	const public = "https://fedcred.bench"
	iss, err := issuer.New(issuer.Config{Store: st, Keys: km, PublicURL: public})
	if err != nil {
		b.Fatal(err)
	}
	cluster := store.Cluster{SubscriptionID: subID, ResourceGroup: "rg", Name: "c", TenantID: tenantID,
		UID: "0d9c3e0a-1111-4222-8333-444455556666", OIDCIssuerEnabled: true}
	id := store.Identity{SubscriptionID: subID, ResourceGroup: "rg", Name: "id", TenantID: tenantID,
		ClientID: "a1f45e16-dfd8-4b05-b50d-08484d4edc4c", PrincipalID: "71c1e704-1089-41f4-9184-026110950e6a"}
	err = st.Update(ctx, func(tx store.Tx) error {
		for _, o := range []store.Object{store.Tenant{ID: tenantID}, cluster, id} {
			if err := store.Create(ctx, tx, o); err != nil {
				return err
			}
		}
		// Other credentials on the identity, as a busy identity has.
		for i, sa := range []string{"a", "b", "c", "d", "ai-svc", "e", "f", "g"} {
			fic := store.FederatedCredential{SubscriptionID: subID, ResourceGroup: "rg", IdentityName: "id",
				Name: "fic-" + sa + strings.Repeat("x", i), Issuer: iss.IssuerURL(cluster),
				Subject: "system:serviceaccount:pets:" + sa, Audiences: []string{defAud}}
			if err := store.Create(ctx, tx, fic); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := km.Ensure(ctx, keys.TenantOwner(tenantID), keys.RingOptions{Certificate: true}); err != nil {
		b.Fatal(err)
	}
	if err := iss.PrepareKeys(ctx, cluster); err != nil {
		b.Fatal(err)
	}
	h, err := sts.New(sts.Config{Store: st, Keys: km, Issuers: trust.Keys{Hosted: iss}, PublicURL: public})
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Mount(mux)
	assertion, _, err := iss.MintToken(ctx, cluster, "pets", "ai-svc", issuer.TokenRequestSpec{Audiences: []string{defAud}})
	if err != nil {
		b.Fatal(err)
	}
	// A tenant with many applications, one of them api://orders with many
	// principals assigned its roles, this identity among them.
	err = st.Update(ctx, func(tx store.Tx) error {
		for i := range benchApplications {
			app := store.Application{TenantID: tenantID, ObjectID: uuidFor("bench-app", strconv.Itoa(i)),
				AppID: uuidFor("bench-appid", strconv.Itoa(i)), ServicePrincipalID: uuidFor("bench-sp", strconv.Itoa(i)),
				DisplayName: "app-" + strconv.Itoa(i), IdentifierURIs: []string{"api://app-" + strconv.Itoa(i)},
				AppRoles: []store.AppRole{{ID: uuidFor("bench-role", strconv.Itoa(i)), Value: "Thing.Read", AllowedMemberTypes: []string{"Application"}, IsEnabled: true}}}
			if i == benchApplications/2 {
				app.IdentifierURIs = []string{"api://orders"}
			}
			if err := store.Create(ctx, tx, app); err != nil {
				return err
			}
			if i != benchApplications/2 {
				continue
			}
			for j := range benchAssignments {
				principal := uuidFor("bench-principal", strconv.Itoa(j))
				if j == benchAssignments/2 {
					principal = id.PrincipalID
				}
				a := store.AppRoleAssignment{ID: uuidFor("bench-assignment", strconv.Itoa(j)), TenantID: tenantID, PrincipalID: principal,
					PrincipalType: "ServicePrincipal", ResourceID: app.ServicePrincipalID, AppRoleID: app.AppRoles[0].ID}
				if err := store.Create(ctx, tx, a); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name, scope string
	}{
		{name: "built-in resource", scope: "https://vault.azure.net/.default openid offline_access profile"},
		{name: "application resource", scope: "api://orders/.default"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			body := url.Values{
				"grant_type": {"client_credentials"}, "client_id": {id.ClientID}, "scope": {bc.scope},
				"client_assertion_type": {jwtBearer}, "client_assertion": {assertion}, "client_info": {"1"},
			}.Encode()
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest("POST", "/"+tenantID+"/oauth2/v2.0/token", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				rec := httptest.NewRecorder()
				mux.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("exchange = %d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// Sizes of the tenant in BenchmarkTokenExchange: applications, and
// assignments on the application tokens are requested for.
const (
	benchApplications = 500
	benchAssignments  = 2000
)

// BenchmarkExchangeFloor is the floor of an exchange: verifying one RS256
// token and signing one, with 2048-bit keys.
func BenchmarkExchangeFloor(b *testing.B) {
	inKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	outKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	in, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: inKey}, nil)
	out, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: outKey}, nil)
	claims := map[string]any{"iss": "https://fedcred.bench/oidc/t/c/", "sub": "system:serviceaccount:pets:ai-svc",
		"aud": []string{defAud}, "exp": time.Now().Add(time.Hour).Unix()}
	tok, err := jwt.Signed(in).Claims(claims).Serialize()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
		if err != nil {
			b.Fatal(err)
		}
		var c map[string]any
		if err := parsed.Claims(&inKey.PublicKey, &c); err != nil {
			b.Fatal(err)
		}
		if _, err := jwt.Signed(out).Claims(c).Serialize(); err != nil {
			b.Fatal(err)
		}
	}
}
