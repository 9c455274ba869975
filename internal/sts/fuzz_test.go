package sts

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/fedcred/fedcred/internal/issuer"
	"github.com/fedcred/fedcred/internal/store"
)

func FuzzParseTokenRequest(f *testing.F) {
	f.Add("grant_type=client_credentials&client_id=c&scope=https%3A%2F%2Fvault.azure.net%2F.default&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=a.b.c", "", "", true)
	f.Add("grant_type=client_credentials&client_id=c&scope=https%3A%2F%2Fmanagement.core.windows.net%2F%2F.default+openid+offline_access+profile&client_secret=s&client_info=1", "", "", true)
	f.Add("grant_type=client_credentials&resource=https%3A%2F%2Fvault.azure.net&client_secret=s", "c", "s", false)
	f.Add("grant_type=client_credentials&client_id=c&client_id=d", "", "", true)
	f.Add("%zz", "", "", false)
	f.Fuzz(func(t *testing.T, body, user, pass string, isV2 bool) {
		version := v1
		if isV2 {
			version = v2
		}
		req := httptest.NewRequest(http.MethodPost, "/t/oauth2/token", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		got, e := parseTokenRequest(httptest.NewRecorder(), req, version)
		if e != nil {
			if e.Code == 0 || e.OAuth == "" || (e.Status != http.StatusBadRequest && e.Status != http.StatusUnauthorized) {
				t.Fatalf("malformed refusal %+v", e)
			}
			return
		}
		if got.clientID == "" || got.resource == "" {
			t.Fatalf("accepted a request without client or resource: %+v", got)
		}
		if got.secretGiven == got.assertionGiven {
			t.Fatalf("accepted a request with %v secret and %v assertion", got.secretGiven, got.assertionGiven)
		}
		if version == v2 {
			form, _ := url.ParseQuery(body)
			if !strings.Contains(form.Get("scope"), got.resource+defaultScopeSuffix) {
				t.Fatalf("resource %q is not the scope %q without /.default", got.resource, form.Get("scope"))
			}
		}
	})
}

// staticKeys is an AssertionKeys with one issuer.
type staticKeys struct {
	iss string
	set jose.JSONWebKeySet
}

func (s staticKeys) KeysFor(_ context.Context, _, iss, _ string) (jose.JSONWebKeySet, error) {
	if iss != s.iss {
		return jose.JSONWebKeySet{}, issuer.ErrUnknownIssuer
	}
	return s.set, nil
}

func FuzzVerifyAssertion(f *testing.F) {
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
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
	if err != nil {
		f.Fatal(err)
	}
	good, err := jwt.Signed(signer).Claims(map[string]any{"iss": iss, "sub": sub, "aud": aud, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}).Serialize()
	if err != nil {
		f.Fatal(err)
	}
	if fic, e := h.verifyAssertion(context.Background(), good, cl); e != nil || fic != "f1" {
		f.Fatalf("seed assertion refused: %v", e)
	}
	f.Add(good)
	f.Add(good[:len(good)-2])
	f.Add(strings.Replace(good, ".", "..", 1))
	f.Add("e30.e30.")
	f.Add("eyJhbGciOiJub25lIn0.eyJpc3MiOiJodHRwczovL2lzc3Vlci5leGFtcGxlLyIsInN1YiI6InMifQ.")
	allowed := map[int]bool{50027: true, 700211: true, 700212: true, 700213: true, 7002138: true, 700024: true, 70023: true, 90061: true}
	f.Fuzz(func(t *testing.T, raw string) {
		fic, e := h.verifyAssertion(context.Background(), raw, cl)
		if e == nil {
			if fic != "f1" {
				t.Fatalf("accepted with credential %q", fic)
			}
			if raw != good {
				// Another string verified: only possible if it is the same
				// signed content (e.g. a JWS equivalent encoding).
				p, err := jwt.ParseSigned(raw, assertionAlgs())
				if err != nil {
					t.Fatalf("accepted unparsable %q", raw)
				}
				var c assertionClaims
				if err := p.Claims(&key.PublicKey, &c); err != nil || c.Subject != sub {
					t.Fatalf("accepted %q that does not verify", raw)
				}
			}
			return
		}
		if !allowed[e.Code] {
			t.Fatalf("unexpected refusal AADSTS%d for %q", e.Code, raw)
		}
	})
}
