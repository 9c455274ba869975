package sts_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestOpenIDConfiguration(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	u := r.srv.URL
	a := u + "/" + tenantID
	tests := []struct {
		name string
		path string
		want map[string]any
	}{
		{
			name: "v2 for a tenant",
			path: "/" + tenantID + "/v2.0/.well-known/openid-configuration",
			want: map[string]any{
				"issuer":                                a + "/v2.0",
				"token_endpoint":                        a + "/oauth2/v2.0/token",
				"jwks_uri":                              a + "/discovery/v2.0/keys",
				"authorization_endpoint":                a + "/oauth2/v2.0/authorize",
				"device_authorization_endpoint":         a + "/oauth2/v2.0/devicecode",
				"end_session_endpoint":                  a + "/oauth2/v2.0/logout",
				"kerberos_endpoint":                     a + "/kerberos",
				"userinfo_endpoint":                     "https://graph.microsoft.com/oidc/userinfo",
				"request_uri_parameter_supported":       false,
				"http_logout_supported":                 true,
				"frontchannel_logout_supported":         true,
				"tenant_region_scope":                   nil,
				"cloud_instance_name":                   "microsoftonline.com",
				"cloud_graph_host_name":                 "graph.windows.net",
				"msgraph_host":                          "graph.microsoft.com",
				"rbac_url":                              "https://pas.windows.net",
				"token_endpoint_auth_methods_supported": []any{"client_secret_post", "private_key_jwt", "client_secret_basic"},
				"id_token_signing_alg_values_supported": []any{"RS256"},
				"subject_types_supported":               []any{"pairwise"},
			},
		},
		{
			name: "v2 with an upper-case tenant names the canonical tenant",
			path: "/" + strings.ToUpper(tenantID) + "/v2.0/.well-known/openid-configuration",
			want: map[string]any{"issuer": a + "/v2.0", "token_endpoint": a + "/oauth2/v2.0/token"},
		},
		{
			name: "v1 for a tenant",
			path: "/" + tenantID + "/.well-known/openid-configuration",
			want: map[string]any{
				"issuer":                 a + "/",
				"token_endpoint":         a + "/oauth2/token",
				"jwks_uri":               a + "/discovery/keys",
				"authorization_endpoint": a + "/oauth2/authorize",
			},
		},
		{
			name: "v2 for common uses the tenant placeholder",
			path: "/common/v2.0/.well-known/openid-configuration",
			want: map[string]any{
				"issuer":         u + "/{tenantid}/v2.0",
				"token_endpoint": u + "/common/oauth2/v2.0/token",
				"jwks_uri":       u + "/common/discovery/v2.0/keys",
			},
		},
		{
			name: "v1 for organizations",
			path: "/organizations/.well-known/openid-configuration",
			want: map[string]any{"issuer": u + "/{tenantid}/", "token_endpoint": u + "/organizations/oauth2/token"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := r.get(t, tt.path)
			if resp.status != http.StatusOK {
				t.Fatalf("status %d\n%s", resp.status, resp.raw)
			}
			for k, want := range tt.want {
				got, ok := resp.body[k]
				if !ok || !equalJSON(got, want) {
					t.Errorf("%s = %#v, want %#v", k, got, want)
				}
			}
			if got := resp.header.Get("Cache-Control"); got != "public, max-age=3600" {
				t.Errorf("Cache-Control = %q", got)
			}
		})
	}
}

func equalJSON(a, b any) bool {
	as, aok := a.([]any)
	bs, bok := b.([]any)
	if aok && bok {
		if len(as) != len(bs) {
			return false
		}
		for i := range as {
			if as[i] != bs[i] {
				return false
			}
		}
		return true
	}
	return a == b
}

func TestDiscovery_UnknownTenant(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	for _, p := range []string{
		"/" + uuidFor("ghost") + "/v2.0/.well-known/openid-configuration",
		"/" + uuidFor("ghost") + "/.well-known/openid-configuration",
		"/" + uuidFor("ghost") + "/discovery/v2.0/keys",
		"/" + uuidFor("ghost") + "/discovery/keys",
		"/contoso.example/v2.0/.well-known/openid-configuration",
	} {
		t.Run(p, func(t *testing.T) {
			t.Parallel()
			resp := r.get(t, p)
			codes, _ := resp.body["error_codes"].([]any)
			if resp.status != http.StatusBadRequest || resp.str("error") != "invalid_tenant" || len(codes) != 1 || codes[0] != float64(90002) {
				t.Errorf("got %d %s, want 400 invalid_tenant [90002]\n%s", resp.status, resp.str("error"), resp.raw)
			}
			if !descPattern.MatchString(resp.str("error_description")) {
				t.Errorf("description %q is not Entra-shaped", resp.str("error_description"))
			}
		})
	}
}

func TestJWKS(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	tests := []struct {
		name       string
		path       string
		wantIssuer string
		wantKeys   int
	}{
		{name: "v2", path: "/" + tenantID + "/discovery/v2.0/keys", wantIssuer: r.srv.URL + "/" + tenantID + "/v2.0", wantKeys: 2},
		{name: "v1", path: "/" + tenantID + "/discovery/keys", wantIssuer: r.srv.URL + "/" + tenantID + "/", wantKeys: 2},
		// The other tenant has no key ring in the rig, so common serves only
		// the first tenant's keys.
		{name: "common", path: "/common/discovery/v2.0/keys", wantIssuer: r.srv.URL + "/{tenantid}/v2.0", wantKeys: 2},
		{name: "tenant without a key ring", path: "/" + otherTenant + "/discovery/v2.0/keys", wantIssuer: "", wantKeys: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := r.get(t, tt.path)
			if resp.status != http.StatusOK {
				t.Fatalf("status %d\n%s", resp.status, resp.raw)
			}
			if got := resp.header.Get("Cache-Control"); got != "public, max-age=3600" {
				t.Errorf("Cache-Control = %q", got)
			}
			keys, ok := resp.body["keys"].([]any)
			if !ok || len(keys) != tt.wantKeys {
				t.Fatalf("keys = %v, want %d keys", resp.body["keys"], tt.wantKeys)
			}
			for _, k := range keys {
				m := k.(map[string]any)
				for _, f := range []string{"kid", "x5t", "n", "e"} {
					if s, _ := m[f].(string); s == "" {
						t.Errorf("key lacks %s: %v", f, m)
					}
				}
				if m["kty"] != "RSA" || m["use"] != "sig" || m["issuer"] != tt.wantIssuer {
					t.Errorf("key kty/use/issuer = %v/%v/%v", m["kty"], m["use"], m["issuer"])
				}
				if x5c, _ := m["x5c"].([]any); len(x5c) != 1 {
					t.Errorf("key x5c = %v, want one certificate", m["x5c"])
				}
				if _, ok := m["d"]; ok {
					t.Fatal("JWKS publishes a private key")
				}
			}
		})
	}
}

func TestInstanceDiscovery(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	host := strings.TrimPrefix(r.srv.URL, "https://")
	hostOnly := strings.Split(host, ":")[0]
	tests := []struct {
		name       string
		query      url.Values
		reqHost    string // Host header; default the server's
		wantStatus int
		wantTDE    string
		wantAlias  []string
	}{
		{
			name:       "Go and Node send the host with its port",
			query:      url.Values{"api-version": {"1.1"}, "authorization_endpoint": {r.srv.URL + "/" + tenantID + "/oauth2/v2.0/authorize"}},
			wantStatus: 200, wantTDE: r.srv.URL + "/" + tenantID + "/v2.0/.well-known/openid-configuration", wantAlias: []string{host},
		},
		{
			name:       "Python MSAL drops the port",
			query:      url.Values{"api-version": {"1.0"}, "authorization_endpoint": {"https://" + hostOnly + "/" + tenantID + "/oauth2/v2.0/authorize"}},
			wantStatus: 200, wantTDE: r.srv.URL + "/" + tenantID + "/v2.0/.well-known/openid-configuration", wantAlias: []string{host, hostOnly},
		},
		{
			name:       "login.microsoftonline.com routed to this server",
			query:      url.Values{"api-version": {"1.1"}, "authorization_endpoint": {"https://login.microsoftonline.com/common/oauth2/authorize"}},
			reqHost:    "login.microsoftonline.com",
			wantStatus: 200, wantTDE: r.srv.URL + "/common/v2.0/.well-known/openid-configuration", wantAlias: []string{host, "login.microsoftonline.com"},
		},
		{
			name:       "another host",
			query:      url.Values{"api-version": {"1.1"}, "authorization_endpoint": {"https://login.microsoftonline.com/" + tenantID + "/oauth2/v2.0/authorize"}},
			wantStatus: 400,
		},
		{
			name:       "this host on another port",
			query:      url.Values{"api-version": {"1.1"}, "authorization_endpoint": {"https://" + hostOnly + ":1/" + tenantID + "/oauth2/v2.0/authorize"}},
			wantStatus: 400,
		},
		{
			name:       "no authorization_endpoint",
			query:      url.Values{"api-version": {"1.1"}},
			wantStatus: 400,
		},
		{
			name:       "tenant segment with odd characters",
			query:      url.Values{"authorization_endpoint": {r.srv.URL + "/a%20b/oauth2/v2.0/authorize"}},
			wantStatus: 400,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(http.MethodGet, r.srv.URL+"/common/discovery/instance?"+tt.query.Encode(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.reqHost != "" {
				req.Host = tt.reqHost
			}
			resp := r.do(t, req)
			if resp.status != tt.wantStatus {
				t.Fatalf("status %d, want %d\n%s", resp.status, tt.wantStatus, resp.raw)
			}
			if tt.wantStatus != 200 {
				if resp.str("error") != "invalid_instance" {
					t.Errorf("error = %q, want invalid_instance", resp.str("error"))
				}
				return
			}
			if got := resp.str("tenant_discovery_endpoint"); got != tt.wantTDE {
				t.Errorf("tenant_discovery_endpoint = %q, want %q", got, tt.wantTDE)
			}
			if resp.str("api-version") != "1.1" {
				t.Errorf("api-version = %q", resp.str("api-version"))
			}
			md, _ := resp.body["metadata"].([]any)
			if len(md) != 1 {
				t.Fatalf("metadata = %v", resp.body["metadata"])
			}
			m := md[0].(map[string]any)
			if m["preferred_network"] != host || m["preferred_cache"] != host {
				t.Errorf("preferred_network/cache = %v/%v, want %s", m["preferred_network"], m["preferred_cache"], host)
			}
			var aliases []any
			for _, a := range tt.wantAlias {
				aliases = append(aliases, a)
			}
			if !equalJSON(m["aliases"], aliases) {
				t.Errorf("aliases = %v, want %v", m["aliases"], tt.wantAlias)
			}
		})
	}
}
