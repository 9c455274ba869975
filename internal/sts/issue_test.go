package sts_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/fedcred/fedcred/internal/sts"
)

// tenantKeys fetches the tenant's JWKS the way a resource would.
func (r *rig) tenantKeys(t *testing.T) jose.JSONWebKeySet {
	t.Helper()
	resp := r.get(t, "/"+tenantID+"/discovery/v2.0/keys")
	if resp.status != http.StatusOK {
		t.Fatalf("GET keys = %d\n%s", resp.status, resp.raw)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(resp.raw), &set); err != nil {
		t.Fatalf("decode JWKS: %v", err)
	}
	return set
}

// verifyAccessToken checks the token's header and signature against the
// served JWKS and returns its claims.
func verifyAccessToken(t *testing.T, tok string, set jose.JSONWebKeySet) sts.AccessClaims {
	t.Helper()
	p, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("parse access token: %v", err)
	}
	hdr := p.Headers[0]
	if hdr.ExtraHeaders["typ"] != "JWT" || hdr.KeyID == "" || hdr.ExtraHeaders["x5t"] == nil {
		t.Errorf("header = typ %v kid %q x5t %v; want typ JWT, kid and x5t", hdr.ExtraHeaders["typ"], hdr.KeyID, hdr.ExtraHeaders["x5t"])
	}
	keys := set.Key(hdr.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q is not in the served JWKS", hdr.KeyID)
	}
	var c sts.AccessClaims
	if err := p.Claims(keys[0].Key, &c); err != nil {
		t.Fatalf("access token does not verify against the served JWKS: %v", err)
	}
	return c
}

func TestToken_Issued(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	id := r.identity(t, tenantID, "payments", fic("payments-api", r.issURL, paymentsSubject))
	sa := r.saToken(t, "payments", "api")
	set := r.tenantKeys(t)
	iss := r.srv.URL + "/" + tenantID + "/"
	nowUnix := r.now.Unix()
	mirid := "/subscriptions/" + subID + "/resourcegroups/rg-Apps/providers/Microsoft.ManagedIdentity/userAssignedIdentities/payments"
	identityClaims := func(aud string) sts.AccessClaims {
		return sts.AccessClaims{Audience: aud, Issuer: iss, IDP: iss, IssuedAt: nowUnix, NotBefore: nowUnix, Expiry: nowUnix + 86400,
			AppID: id.ClientID, AppIDACR: "2", IDType: "app", ObjectID: id.PrincipalID, Subject: id.PrincipalID,
			TenantID: tenantID, Version: "1.0", MIResourceID: mirid}
	}
	spClaims := func(aud string) sts.AccessClaims {
		return sts.AccessClaims{Audience: aud, Issuer: iss, IDP: iss, IssuedAt: nowUnix, NotBefore: nowUnix, Expiry: nowUnix + 3600,
			AppID: r.sp.ClientID, AppIDACR: "1", IDType: "app", ObjectID: r.sp.ObjectID, Subject: r.sp.ObjectID,
			TenantID: tenantID, Version: "1.0"}
	}
	msalGo := func(q *http.Request) {
		q.Header.Set("client-request-id", uuidFor("msal-go"))
		q.Header.Set("Return-Client-Request-Id", "false")
		q.Header.Set("x-client-sku", "MSAL.Go")
		q.Header.Set("x-client-ver", "1.10.1")
	}

	tests := []struct {
		name       string
		path       string
		form       url.Values
		edit       func(*http.Request)
		wantV1     bool
		wantIn     int64
		wantClaims sts.AccessClaims
	}{
		{
			name: "v2 assertion as MSAL Go sends it",
			path: v2Path,
			form: with(with(with(assertionForm(id.ClientID, sa),
				"scope", "https://management.core.windows.net//.default openid offline_access profile"),
				"client_info", "1"),
				"claims", `{"access_token":{"xms_cc":{"values":["CP1"]}}}`),
			edit:       msalGo,
			wantIn:     86399,
			wantClaims: identityClaims("https://management.core.windows.net/"),
		},
		{
			name: "v2 assertion as msal-node sends it",
			path: v2Path + "?client-request-id=" + uuidFor("msal-node"),
			form: func() url.Values {
				f := assertionForm(id.ClientID, sa)
				for k, v := range map[string]string{"x-client-SKU": "msal.js.node", "x-client-VER": "5.6.0", "x-client-OS": "linux",
					"x-client-CPU": "x64", "x-ms-lib-capability": "retry-after, h429", "x-client-current-telemetry": "5|771,2,,,|,",
					"x-client-last-telemetry": "5|0|||0,0", "client-request-id": uuidFor("msal-node")} {
					f.Set(k, v)
				}
				return f
			}(),
			wantIn:     86399,
			wantClaims: identityClaims("https://vault.azure.net"),
		},
		{
			name:       "v2 assertion for a registered resource",
			path:       v2Path,
			form:       with(assertionForm(id.ClientID, sa), "scope", "api://payments/.default"),
			wantIn:     86399,
			wantClaims: identityClaims("api://payments"),
		},
		{
			name:       "v2 assertion for this server's management API",
			path:       v2Path,
			form:       with(assertionForm(id.ClientID, sa), "scope", r.srv.URL+"//.default"),
			wantIn:     86399,
			wantClaims: identityClaims(r.srv.URL + "/"),
		},
		{
			name:       "v2 assertion with an upper-case client ID and tenant",
			path:       "/" + strings.ToUpper(tenantID) + "/oauth2/v2.0/token",
			form:       assertionForm(strings.ToUpper(id.ClientID), sa),
			wantIn:     86399,
			wantClaims: identityClaims("https://vault.azure.net"),
		},
		{
			name:       "v1 assertion",
			path:       v1Path,
			form:       with(with(assertionForm(id.ClientID, sa), "scope"), "resource", "https://storage.azure.com/"),
			wantV1:     true,
			wantIn:     86399,
			wantClaims: identityClaims("https://storage.azure.com/"),
		},
		{
			name:       "v1 secret",
			path:       v1Path,
			form:       with(with(secretForm(r.sp.ClientID, spSecret), "scope"), "resource", "https://management.azure.com/"),
			wantV1:     true,
			wantIn:     3599,
			wantClaims: spClaims("https://management.azure.com/"),
		},
		{
			name:       "v2 secret in the body",
			path:       v2Path,
			form:       with(secretForm(r.sp.ClientID, spSecret), "scope", "https://graph.microsoft.com/.default"),
			wantIn:     3599,
			wantClaims: spClaims("https://graph.microsoft.com"),
		},
		{
			name:       "v2 secret over HTTP Basic",
			path:       v2Path,
			form:       with(with(secretForm(r.sp.ClientID, spSecret), "client_id"), "client_secret"),
			edit:       func(q *http.Request) { q.SetBasicAuth(url.QueryEscape(r.sp.ClientID), url.QueryEscape(spSecret)) },
			wantIn:     3599,
			wantClaims: spClaims("https://vault.azure.net"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var edits []func(*http.Request)
			if tt.edit != nil {
				edits = append(edits, tt.edit)
			}
			resp := r.post(t, tt.path, tt.form, edits...)
			if resp.status != http.StatusOK {
				t.Fatalf("status %d\n%s", resp.status, resp.raw)
			}
			if got := resp.header.Get("Cache-Control"); !strings.Contains(got, "no-store") {
				t.Errorf("Cache-Control = %q, want no-store", got)
			}
			if resp.str("token_type") != "Bearer" {
				t.Errorf("token_type = %v", resp.body["token_type"])
			}
			wantKeys := []string{"token_type", "expires_in", "ext_expires_in", "access_token"}
			if tt.wantV1 {
				wantKeys = append(wantKeys, "expires_on", "not_before", "resource")
				c := tt.wantClaims
				for k, want := range map[string]string{
					"expires_in": itoa(tt.wantIn), "ext_expires_in": itoa(tt.wantIn),
					"expires_on": itoa(c.Expiry), "not_before": itoa(c.NotBefore), "resource": c.Audience,
				} {
					if got, ok := resp.body[k].(string); !ok || got != want {
						t.Errorf("v1 %s = %#v, want the string %q", k, resp.body[k], want)
					}
				}
			} else {
				for _, k := range []string{"expires_in", "ext_expires_in"} {
					if got, ok := resp.body[k].(float64); !ok || int64(got) != tt.wantIn {
						t.Errorf("v2 %s = %#v, want the number %d", k, resp.body[k], tt.wantIn)
					}
				}
			}
			if len(resp.body) != len(wantKeys) {
				t.Errorf("response has members %v, want exactly %v", keysOf(resp.body), wantKeys)
			}
			got := verifyAccessToken(t, resp.str("access_token"), set)
			if len(got.UTI) != 22 {
				t.Errorf("uti = %q, want 16 random bytes in base64url", got.UTI)
			}
			got.UTI = ""
			if !reflect.DeepEqual(got, tt.wantClaims) {
				t.Errorf("claims =\n%+v\nwant\n%+v", got, tt.wantClaims)
			}
		})
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func keysOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestToken_UniqueTokenIDs(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	seen := map[string]bool{}
	set := r.tenantKeys(t)
	for range 3 {
		resp := r.post(t, v2Path, secretForm(r.sp.ClientID, spSecret))
		c := verifyAccessToken(t, resp.str("access_token"), set)
		if seen[c.UTI] {
			t.Fatalf("uti %q issued twice", c.UTI)
		}
		seen[c.UTI] = true
	}
}

func TestToken_MethodNotAllowed(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	req, err := http.NewRequest(http.MethodGet, r.srv.URL+v2Path, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET token endpoint = %d, want 405", res.StatusCode)
	}
}

func TestNew_Validation(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	tests := []struct {
		name string
		cfg  sts.Config
	}{
		{name: "no store", cfg: sts.Config{Keys: r.keys, Issuers: r.extra, PublicURL: "https://x"}},
		{name: "no keys", cfg: sts.Config{Store: r.store, Issuers: r.extra, PublicURL: "https://x"}},
		{name: "no issuers", cfg: sts.Config{Store: r.store, Keys: r.keys, PublicURL: "https://x"}},
		{name: "relative public URL", cfg: sts.Config{Store: r.store, Keys: r.keys, Issuers: r.extra, PublicURL: "/x"}},
		{name: "public URL with query", cfg: sts.Config{Store: r.store, Keys: r.keys, Issuers: r.extra, PublicURL: "https://x/?a=b"}},
		{name: "public URL with another scheme", cfg: sts.Config{Store: r.store, Keys: r.keys, Issuers: r.extra, PublicURL: "ftp://x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := sts.New(tt.cfg); err == nil {
				t.Error("New accepted an invalid config")
			}
		})
	}
	if _, err := sts.New(sts.Config{Store: r.store, Keys: r.keys, Issuers: r.extra, PublicURL: "https://fedcred.example/"}); err != nil {
		t.Errorf("New with a valid config: %v", err)
	}
}
