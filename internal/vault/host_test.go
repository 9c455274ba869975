package vault

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// hostClient sends requests straight to a Handler (as the server's router
// does for a <vault>.vault.azure.net host), with the Host header given.
type hostClient struct {
	srv *httptest.Server
}

// doHost sends a request whose Host is host, as a client of
// https://<vault>.vault.azure.net does through fedcred's login proxy.
func (e hostClient) doHost(t *testing.T, method, host, path, token string, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Fatalf("%s %s: body is not a JSON object: %v: %s", method, path, err, raw)
		}
	}
	return r
}

func TestVaultByHost(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	v1 := versionOf(t, e.set("pets-kv", "db-password", map[string]any{"value": "first"}))
	e.set("pets-kv", "api-key", map[string]any{"value": "k"})
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	c := hostClient{srv: srv}
	host := "pets-kv.vault.azure.net"
	base := "https://" + host + "/"
	q := "?api-version=" + apiVersion

	t.Run("get the latest version, with azsecrets' trailing slash", func(t *testing.T) {
		t.Parallel()
		r := c.doHost(t, "GET", host, "/secrets/db-password/"+q, userToken, "")
		if r.status != http.StatusOK || r.body["value"] != "first" {
			t.Fatalf("status %d: %s", r.status, r.raw)
		}
		if id := r.body["id"]; id != base+"secrets/db-password/"+v1 {
			t.Errorf("id = %v, want the vault host's URL %s", id, base+"secrets/db-password/"+v1)
		}
	})
	t.Run("host names match case-insensitively and with port 443", func(t *testing.T) {
		t.Parallel()
		r := c.doHost(t, "GET", "PETS-KV.Vault.Azure.Net:443", "/secrets/db-password"+q, userToken, "")
		if r.status != http.StatusOK || r.body["value"] != "first" {
			t.Fatalf("status %d: %s", r.status, r.raw)
		}
	})
	t.Run("set a secret", func(t *testing.T) {
		t.Parallel()
		r := c.doHost(t, "PUT", host, "/secrets/by-host"+q, officerToken, `{"value":"v"}`)
		if r.status != http.StatusOK {
			t.Fatalf("status %d: %s", r.status, r.raw)
		}
		if id, _ := r.body["id"].(string); !strings.HasPrefix(id, base+"secrets/by-host/") {
			t.Errorf("id = %q, want it under %s", id, base)
		}
	})
	t.Run("list items and next links name the host", func(t *testing.T) {
		t.Parallel()
		r := c.doHost(t, "GET", host, "/secrets"+q+"&maxresults=1", userToken, "")
		if r.status != http.StatusOK {
			t.Fatalf("status %d: %s", r.status, r.raw)
		}
		items, _ := r.body["value"].([]any)
		if len(items) != 1 {
			t.Fatalf("items %v", items)
		}
		if id, _ := items[0].(map[string]any)["id"].(string); !strings.HasPrefix(id, base+"secrets/") {
			t.Errorf("item id %q, want it under %s", id, base)
		}
		if next, _ := r.body["nextLink"].(string); !strings.HasPrefix(next, base+"secrets?") {
			t.Errorf("nextLink %q, want it under %s", next, base)
		}
	})
	t.Run("without a token: the challenge", func(t *testing.T) {
		t.Parallel()
		r := c.doHost(t, "GET", host, "/secrets/db-password/"+q, "", "")
		if r.status != http.StatusUnauthorized || !strings.Contains(r.header.Get("WWW-Authenticate"), `resource="https://vault.azure.net"`) {
			t.Fatalf("status %d, challenge %q", r.status, r.header.Get("WWW-Authenticate"))
		}
	})
	t.Run("a vault that does not exist", func(t *testing.T) {
		t.Parallel()
		c.doHost(t, "GET", "ghost.vault.azure.net", "/secrets/x"+q, userToken, "").expectError(t, http.StatusNotFound, "VaultNotFound", "")
	})
	t.Run("a path-style path on a vault host is not routed twice", func(t *testing.T) {
		t.Parallel()
		c.doHost(t, "GET", host, "/vaults/pets-kv/secrets/db-password"+q, userToken, "").expectError(t, http.StatusNotFound, "NotFound", "")
	})
	t.Run("the RBAC decision is the vault's", func(t *testing.T) {
		t.Parallel()
		r := c.doHost(t, "GET", host, "/secrets/db-password"+q, nobodyToken, "")
		if r.status != http.StatusForbidden {
			t.Fatalf("caller without a role: status %d: %s", r.status, r.raw)
		}
	})
}

func TestHostVault(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		host, want string
		ok         bool
	}{
		{host: "pets-kv.vault.azure.net", want: "pets-kv", ok: true},
		{host: "Pets-KV.VAULT.AZURE.NET.", want: "pets-kv", ok: true},
		{host: "pets-kv.vault.azure.net:443", want: "pets-kv", ok: true},
		{host: "vault.azure.net"},
		{host: ".vault.azure.net"},
		{host: "a.b.vault.azure.net"},
		{host: "pets-kv.vault.azure.net.evil.test"},
		{host: "pets-kv.vaultxazure.net"},
		{host: "localhost:8443"},
		{host: strings.Repeat("k", maxVaultNameLen+1) + ".vault.azure.net"},
	} {
		got, ok := HostVault(tt.host)
		if got != tt.want || ok != tt.ok {
			t.Errorf("HostVault(%q) = %q, %v; want %q, %v", tt.host, got, ok, tt.want, tt.ok)
		}
	}
}
