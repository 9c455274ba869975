package vault

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fedcred/fedcred/internal/rbac"
)

func TestNew_Config(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	valid := func() Config {
		return Config{Store: st, Sealer: newSealer(t), Authorizer: rbac.Authorizer{Store: st},
			Authenticate: testAuthenticate, PublicURL: testPublicURL, TenantID: testTenant}
	}
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr string
	}{
		{name: "valid", edit: func(*Config) {}},
		{name: "public URL with a trailing slash", edit: func(c *Config) { c.PublicURL += "/" }},
		{name: "no store", edit: func(c *Config) { c.Store = nil }, wantErr: "store is required"},
		{name: "no sealer", edit: func(c *Config) { c.Sealer = nil }, wantErr: "sealer is required"},
		{name: "no authorizer", edit: func(c *Config) { c.Authorizer = nil }, wantErr: "authorizer is required"},
		{name: "no authenticate", edit: func(c *Config) { c.Authenticate = nil }, wantErr: "authenticate is required"},
		{name: "no tenant", edit: func(c *Config) { c.TenantID = "" }, wantErr: "tenant ID is required"},
		{name: "no public URL", edit: func(c *Config) { c.PublicURL = "" }, wantErr: "public URL"},
		{name: "relative public URL", edit: func(c *Config) { c.PublicURL = "fedcred.test" }, wantErr: "public URL"},
		{name: "public URL with a query", edit: func(c *Config) { c.PublicURL = "https://fedcred.test/?a=b" }, wantErr: "public URL"},
		{name: "public URL of another scheme", edit: func(c *Config) { c.PublicURL = "ftp://fedcred.test" }, wantErr: "public URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := valid()
			tc.edit(&cfg)
			h, err := New(cfg)
			if tc.wantErr == "" {
				if err != nil || h == nil {
					t.Fatalf("New = %v, %v", h, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New error = %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
	// Several problems are reported at once.
	_, err := New(Config{PublicURL: testPublicURL, TenantID: testTenant})
	for _, want := range []string{"store", "sealer", "authorizer", "authenticate"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New of an empty config = %v, want it to mention %s", err, want)
		}
	}
}

func TestVaultURI(t *testing.T) {
	t.Parallel()
	for _, base := range []string{"https://fedcred.test:8443", "https://fedcred.test:8443/"} {
		if got := VaultURI(base, "pets-kv"); got != "https://fedcred.test:8443/vaults/pets-kv/" {
			t.Errorf("VaultURI(%q) = %q", base, got)
		}
	}
}

func TestRouting(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.set("pets-kv", "s", map[string]any{"value": "v"})
	tests := []struct {
		name       string
		method     string
		path       string
		wantStatus int
		wantCode   string
		wantAllow  string
	}{
		{name: "no vault name", method: "GET", path: "/vaults/?api-version=7.5", wantStatus: 404, wantCode: "NotFound"},
		{name: "vault root", method: "GET", path: "/vaults/pets-kv/?api-version=7.5", wantStatus: 404, wantCode: "NotFound"},
		{name: "keys are not served", method: "GET", path: "/vaults/pets-kv/keys?api-version=7.5", wantStatus: 404, wantCode: "NotFound"},
		{name: "too deep", method: "GET", path: "/vaults/pets-kv/secrets/s/v/x?api-version=7.5", wantStatus: 404, wantCode: "NotFound"},
		{name: "overlong vault name", method: "GET", path: "/vaults/" + strings.Repeat("v", 128) + "/secrets?api-version=7.5", wantStatus: 404, wantCode: "NotFound"},
		{name: "backup is not served", method: "POST", path: "/vaults/pets-kv/secrets/s/backup?api-version=7.5", wantStatus: 405, wantCode: "MethodNotAllowed", wantAllow: "GET, PATCH"},
		{name: "POST on a secret", method: "POST", path: "/vaults/pets-kv/secrets/s?api-version=7.5", wantStatus: 405, wantCode: "MethodNotAllowed", wantAllow: "GET, PUT, PATCH, DELETE"},
		{name: "PUT on a version", method: "PUT", path: "/vaults/pets-kv/secrets/s/0123?api-version=7.5", wantStatus: 405, wantCode: "MethodNotAllowed", wantAllow: "GET, PATCH"},
		{name: "DELETE on the list", method: "DELETE", path: "/vaults/pets-kv/secrets?api-version=7.5", wantStatus: 405, wantCode: "MethodNotAllowed", wantAllow: "GET"},
		{name: "GET on recover", method: "GET", path: "/vaults/pets-kv/deletedsecrets/s/recover?api-version=7.5", wantStatus: 405, wantCode: "MethodNotAllowed", wantAllow: "POST"},
		{name: "collection names in other case", method: "GET", path: "/vaults/pets-kv/Secrets/s/Versions?api-version=7.5", wantStatus: 200},
		{name: "list with trailing slash", method: "GET", path: "/vaults/pets-kv/secrets/?api-version=7.5", wantStatus: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := e.do(tc.method, tc.path, officerToken, nil)
			if tc.wantCode == "" {
				if r.status != tc.wantStatus {
					t.Fatalf("status = %d %s, want %d", r.status, r.raw, tc.wantStatus)
				}
				return
			}
			r.expectError(t, tc.wantStatus, tc.wantCode, "")
			if got := r.header.Get("Allow"); got != tc.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tc.wantAllow)
			}
		})
	}
}

func TestMount_OnlyVaultPaths(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mux := http.NewServeMux()
	e.h.Mount(mux)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	for path, want := range map[string]int{"/healthz": http.StatusNoContent, "/vaults/pets-kv/secrets?api-version=1": http.StatusUnauthorized} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequestWithContext(context.Background(), "GET", path, nil))
		if rec.Code != want {
			t.Errorf("GET %s = %d, want %d", path, rec.Code, want)
		}
	}
}

func TestAPIVersionRequired(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.set("pets-kv", "s", map[string]any{"value": "v"})
	tests := []struct {
		name   string
		method string
		path   string
		token  string
		body   any
	}{
		{name: "get", method: "GET", path: "/vaults/pets-kv/secrets/s", token: officerToken},
		{name: "get without a token", method: "GET", path: "/vaults/pets-kv/secrets/s"},
		{name: "get with an empty api-version", method: "GET", path: "/vaults/pets-kv/secrets/s?api-version=", token: officerToken},
		{name: "set", method: "PUT", path: "/vaults/pets-kv/secrets/s", token: officerToken, body: map[string]any{"value": "x"}},
		{name: "update", method: "PATCH", path: "/vaults/pets-kv/secrets/s/", token: officerToken, body: map[string]any{}},
		{name: "delete", method: "DELETE", path: "/vaults/pets-kv/secrets/s", token: officerToken},
		{name: "list", method: "GET", path: "/vaults/pets-kv/secrets", token: officerToken},
		{name: "versions", method: "GET", path: "/vaults/pets-kv/secrets/s/versions", token: officerToken},
		{name: "deleted secret", method: "GET", path: "/vaults/pets-kv/deletedsecrets/s", token: officerToken},
		{name: "missing vault", method: "GET", path: "/vaults/no-such-kv/secrets", token: officerToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := e.do(tc.method, tc.path, tc.token, tc.body)
			r.expectError(t, http.StatusBadRequest, "BadParameter", "")
			if !strings.Contains(r.message(), "api-version") {
				t.Errorf("message %q does not name api-version", r.message())
			}
		})
	}
	// Nothing was changed by the refused calls.
	if r := e.do("GET", secretPath("pets-kv", "secrets", "s"), officerToken, nil); r.body["value"] != "v" {
		t.Errorf("secret after refused calls = %s", r.raw)
	}
}

func TestLogs_HoldNoSecretsOrTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const value = "value-that-must-not-be-logged"
	v := versionOf(t, e.set("pets-kv", "logged", map[string]any{"value": value}))
	e.do("GET", secretPath("pets-kv", "secrets", "logged", v), officerToken, nil)
	e.do("PUT", secretPath("pets-kv", "secrets", "logged"), userToken, map[string]any{"value": value})
	e.do("PUT", secretPath("pets-kv", "secrets", "bad_name"), officerToken, map[string]any{"value": value})
	e.do("PUT", secretPath("pets-kv", "secrets", "logged"), officerToken, `{"value":"`+value+`",}`)
	e.doAuth("GET", secretPath("pets-kv", "secrets", "logged"), "Bearer forged-"+value, nil)
	logs := e.logs.String()
	if logs == "" {
		t.Fatal("nothing was logged: the test would prove nothing")
	}
	for _, leak := range []string{value, officerToken, userToken} {
		if strings.Contains(logs, leak) {
			t.Errorf("the log holds %q:\n%s", leak, logs)
		}
	}
}
