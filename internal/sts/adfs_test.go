package sts_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

func TestADFSMetadata(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	resp := r.get(t, "/adfs/.well-known/openid-configuration")
	if resp.status != http.StatusOK {
		t.Fatalf("status %d\n%s", resp.status, resp.raw)
	}
	a := r.srv.URL + "/adfs"
	for k, want := range map[string]string{
		"issuer":                 a,
		"authorization_endpoint": a + "/oauth2/authorize",
		"token_endpoint":         a + "/oauth2/token",
		"jwks_uri":               a + "/discovery/keys",
	} {
		if got := resp.str(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	keys := r.get(t, "/adfs/discovery/keys")
	set, _ := keys.body["keys"].([]any)
	if keys.status != http.StatusOK || len(set) == 0 {
		t.Errorf("AD FS keys: %d with %d keys\n%s", keys.status, len(set), keys.raw)
	}
}

func TestADFSTokenTakesTheClientsTenant(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	id := r.identity(t, tenantID, "adfs-app", fic("pets", r.issURL, "system:serviceaccount:pets:ai"))
	other := r.identity(t, otherTenant, "adfs-other")
	tests := []struct {
		name       string
		path       string
		form       url.Values
		basic      bool
		wantStatus int
		wantCode   float64 // AADSTS code of a refusal
		wantAud    string  // aud of an issued token
	}{
		{name: "federated credential, v2 form (MSAL)", path: "/adfs/oauth2/token",
			form: assertionForm(id.ClientID, r.saToken(t, "pets", "ai")), wantStatus: http.StatusOK, wantAud: "https://vault.azure.net"},
		{name: "federated credential on the v2.0 path", path: "/adfs/oauth2/v2.0/token",
			form: assertionForm(id.ClientID, r.saToken(t, "pets", "ai")), wantStatus: http.StatusOK, wantAud: "https://vault.azure.net"},
		{name: "client secret with MSAL's extra fields", path: "/adfs/oauth2/token",
			form:       with(with(secretForm(r.sp.ClientID, spSecret), "client_info", "1"), "claims", `{"access_token":{"xms_cc":{"values":["CP1"]}}}`),
			wantStatus: http.StatusOK, wantAud: "https://vault.azure.net"},
		{name: "client secret over HTTP Basic", path: "/adfs/oauth2/token", basic: true,
			form:       url.Values{"grant_type": {"client_credentials"}, "scope": {"https://management.core.windows.net//.default"}},
			wantStatus: http.StatusOK, wantAud: "https://management.core.windows.net/"},
		{name: "v1 form with a resource (ADAL)", path: "/adfs/oauth2/token",
			form:       with(with(secretForm(r.sp.ClientID, spSecret), "scope"), "resource", "https://vault.azure.net"),
			wantStatus: http.StatusOK, wantAud: "https://vault.azure.net"},
		{name: "the subject differs", path: "/adfs/oauth2/token",
			form: assertionForm(id.ClientID, r.saToken(t, "pets", "other")), wantStatus: http.StatusUnauthorized, wantCode: 700213},
		{name: "an identity of another tenant has no credential", path: "/adfs/oauth2/token",
			form: assertionForm(other.ClientID, r.saToken(t, "pets", "ai")), wantStatus: http.StatusUnauthorized, wantCode: 700211},
		{name: "unknown client", path: "/adfs/oauth2/token",
			form: assertionForm(uuidFor("nobody"), r.saToken(t, "pets", "ai")), wantStatus: http.StatusBadRequest, wantCode: 700016},
		{name: "no client_id", path: "/adfs/oauth2/token",
			form: with(assertionForm("x", "y"), "client_id"), wantStatus: http.StatusBadRequest, wantCode: 900144},
		{name: "wrong secret", path: "/adfs/oauth2/token",
			form: secretForm(r.sp.ClientID, "nope"), wantStatus: http.StatusUnauthorized, wantCode: 7000215},
		{name: "oversized body", path: "/adfs/oauth2/token",
			form: with(secretForm(r.sp.ClientID, spSecret), "pad", strings.Repeat("x", 70<<10)), wantStatus: http.StatusBadRequest, wantCode: 9002313},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var edits []func(*http.Request)
			if tt.basic {
				edits = append(edits, func(req *http.Request) { req.SetBasicAuth(r.sp.ClientID, spSecret) })
			}
			resp := r.post(t, tt.path, tt.form, edits...)
			if resp.status != tt.wantStatus {
				t.Fatalf("status %d, want %d\n%s", resp.status, tt.wantStatus, resp.raw)
			}
			if tt.wantCode != 0 {
				codes, _ := resp.body["error_codes"].([]any)
				if len(codes) != 1 || codes[0] != tt.wantCode {
					t.Errorf("error_codes %v, want [%v]\n%s", codes, tt.wantCode, resp.raw)
				}
				if !descPattern.MatchString(resp.str("error_description")) {
					t.Errorf("description %q is not Entra-shaped", resp.str("error_description"))
				}
				return
			}
			if _, ok := resp.body["expires_in"]; !ok {
				t.Errorf("no expires_in in %s", resp.raw)
			}
			tok, err := jwt.ParseSigned(resp.str("access_token"), []jose.SignatureAlgorithm{jose.RS256})
			if err != nil {
				t.Fatal(err)
			}
			var claims struct {
				Aud string `json:"aud"`
				Iss string `json:"iss"`
				Tid string `json:"tid"`
			}
			if err := tok.UnsafeClaimsWithoutVerification(&claims); err != nil {
				t.Fatal(err)
			}
			if claims.Aud != tt.wantAud || claims.Tid != tenantID || claims.Iss != r.srv.URL+"/"+tenantID+"/" {
				t.Errorf("claims %+v, want aud %s in tenant %s", claims, tt.wantAud, tenantID)
			}
		})
	}
}
