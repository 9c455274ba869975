package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

const kvPath = "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.KeyVault/vaults/kv1"

func TestVaultManagementRequests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	vaultJSON := func(uri string) string {
		return `{"id":"` + kvPath + `","name":"kv1","type":"Microsoft.KeyVault/vaults","location":"eastus","tags":{},
			"properties":{"tenantId":"tenant-1","sku":{"family":"A","name":"standard"},"enableRbacAuthorization":true,
			"vaultUri":"` + uri + `","provisioningState":"Succeeded","accessPolicies":[]}}`
	}
	rbacOn := true
	tests := []struct {
		name     string
		call     func(c *Client) (any, error)
		status   int
		response string
		want     []wantRequest
		wantErr  string
		check    func(t *testing.T, got any)
	}{
		{
			name: "put vault sends location, tenant, SKU and RBAC only",
			call: func(c *Client) (any, error) {
				return c.PutVault(ctx, testSub, "rg-1", "kv1", Vault{ID: "x", Name: "x", Location: "eastus", Properties: VaultProperties{
					TenantID: "tenant-1", SKU: StandardSKU(), EnableRBACAuthorization: &rbacOn, VaultURI: "https://ignored/", ProvisioningState: "x"}})
			},
			status: 201, response: vaultJSON("https://h/vaults/kv1/"),
			want: []wantRequest{{method: "PUT", path: kvPath, apiVersion: KeyVaultAPIVersion,
				body: `{"location":"eastus","properties":{"tenantId":"tenant-1","sku":{"family":"A","name":"standard"},"enableRbacAuthorization":true}}`}},
			check: func(t *testing.T, got any) {
				v := got.(*Vault)
				if v.Properties.VaultURI != "https://h/vaults/kv1/" || v.Properties.EnableRBACAuthorization == nil || !*v.Properties.EnableRBACAuthorization {
					t.Errorf("vault %+v", v)
				}
			},
		},
		{
			name:   "get vault",
			call:   func(c *Client) (any, error) { return c.GetVault(ctx, testSub, "rg-1", "kv1") },
			status: 200, response: vaultJSON("https://h/vaults/kv1/"),
			want: []wantRequest{{method: "GET", path: kvPath, apiVersion: KeyVaultAPIVersion}},
		},
		{
			name:   "delete vault",
			call:   func(c *Client) (any, error) { return nil, c.DeleteVault(ctx, testSub, "rg-1", "kv1") },
			status: 200,
			want:   []wantRequest{{method: "DELETE", path: kvPath, apiVersion: KeyVaultAPIVersion}},
		},
		{
			name:   "list vaults of a resource group",
			call:   func(c *Client) (any, error) { return c.ListVaults(ctx, testSub, "rg-1") },
			status: 200, response: `{"value":[]}`,
			want: []wantRequest{{method: "GET", path: "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.KeyVault/vaults", apiVersion: KeyVaultAPIVersion}},
		},
		{
			name:   "vault URI by name, in the subscription",
			call:   func(c *Client) (any, error) { return c.VaultURI(ctx, testSub, "KV1") },
			status: 200, response: `{"value":[` + vaultJSON("https://h/vaults/kv1/") + `]}`,
			want: []wantRequest{{method: "GET", path: "/subscriptions/sub-1/providers/Microsoft.KeyVault/vaults", apiVersion: KeyVaultAPIVersion}},
			check: func(t *testing.T, got any) {
				if got.(string) != "https://h/vaults/kv1/" {
					t.Errorf("vault URI %q", got)
				}
			},
		},
		{
			name:   "a vault without a URI",
			call:   func(c *Client) (any, error) { return c.VaultURI(ctx, testSub, "kv1") },
			status: 200, response: `{"value":[` + vaultJSON("") + `]}`,
			want:    []wantRequest{{method: "GET", path: "/subscriptions/sub-1/providers/Microsoft.KeyVault/vaults", apiVersion: KeyVaultAPIVersion}},
			wantErr: "the server gave it no vaultUri",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAPI(t)
			f.mux.HandleFunc("/subscriptions/", func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.response)
			})
			got, err := tt.call(f.client(nil))
			reqs := f.recorded()
			if len(reqs) != len(tt.want) {
				t.Fatalf("%d requests, want %d: %+v", len(reqs), len(tt.want), reqs)
			}
			for i, w := range tt.want {
				r := reqs[i]
				if r.Method != w.method || r.Path != w.path || r.Query != "api-version="+w.apiVersion {
					t.Errorf("request %d = %s %s?%s, want %s %s?api-version=%s", i, r.Method, r.Path, r.Query, w.method, w.path, w.apiVersion)
				}
				assertJSONEqual(t, r.Body, w.body)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, got)
			}
		})
	}
}

func TestFindVaultNotFound(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	f.mux.HandleFunc("GET /subscriptions/{sub}/providers/Microsoft.KeyVault/vaults", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, map[string]any{"value": []any{map[string]any{"name": "other"}}})
	})
	_, err := f.client(nil).FindVault(context.Background(), testSub, "kv1")
	var ae *APIError
	if !errors.As(err, &ae) || !ae.IsNotFound() || err.Error() != "(ResourceNotFound) The vault 'kv1' was not found in subscription 'sub-1'." {
		t.Fatalf("error = %v, want a 404 ResourceNotFound *APIError", err)
	}
}

// secretFake serves a vault's data plane under /vaults/kv1/ on f: it
// answers with the handler for requests with a vault token, and with a
// bearer challenge for others.
func secretFake(f *fakeAPI, h http.HandlerFunc) {
	f.mux.HandleFunc("/vaults/", func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer tok-vault-") {
			w.Header().Set("WWW-Authenticate", `Bearer authorization="`+f.srv.URL+`/tenant-1", resource="https://vault.azure.net"`)
			writeJSON(w, 401, map[string]any{"error": map[string]any{"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer or PoP token."}})
			return
		}
		h(w, r)
	})
}

func TestSecretRequests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bundle := `{"value":"v1","id":"https://h/vaults/kv1/secrets/s1/0123","contentType":"text/plain","tags":{"a":"b"},
		"attributes":{"enabled":true,"created":1767323045,"updated":1767323046,"recoveryLevel":"Purgeable","recoverableDays":0}}`
	tests := []struct {
		name      string
		call      func(c *Client, vaultURI string) (any, error)
		response  string
		method    string
		wantPath  string
		wantQuery string
		wantBody  string
		check     func(t *testing.T, got any)
	}{
		{
			name: "set",
			call: func(c *Client, uri string) (any, error) {
				return c.SetSecret(ctx, uri, "s1", SecretSetParameters{Value: "v1", ContentType: "text/plain", Tags: map[string]string{"a": "b"}})
			},
			response: bundle, method: "PUT", wantPath: "/vaults/kv1/secrets/s1", wantQuery: "api-version=7.6",
			wantBody: `{"value":"v1","contentType":"text/plain","tags":{"a":"b"}}`,
			check: func(t *testing.T, got any) {
				b := got.(*SecretBundle)
				if b.Value != "v1" || b.Attributes.Created == nil || *b.Attributes.Created != 1767323045 || b.Attributes.RecoverableDays == nil || b.Tags["a"] != "b" {
					t.Errorf("bundle %#v %+v", b, b.Attributes)
				}
			},
		},
		{
			name: "set without content type and tags sends only the value",
			call: func(c *Client, uri string) (any, error) {
				return c.SetSecret(ctx, uri, "s1", SecretSetParameters{Value: ""})
			},
			response: bundle, method: "PUT", wantPath: "/vaults/kv1/secrets/s1", wantQuery: "api-version=7.6",
			wantBody: `{"value":""}`,
		},
		{
			name:     "get the latest version",
			call:     func(c *Client, uri string) (any, error) { return c.GetSecret(ctx, uri, "s 1", "") },
			response: bundle, method: "GET", wantPath: "/vaults/kv1/secrets/s%201", wantQuery: "api-version=7.6",
		},
		{
			name:     "get a version",
			call:     func(c *Client, uri string) (any, error) { return c.GetSecret(ctx, uri, "s1", "0123") },
			response: bundle, method: "GET", wantPath: "/vaults/kv1/secrets/s1/0123", wantQuery: "api-version=7.6",
		},
		{
			name: "delete",
			call: func(c *Client, uri string) (any, error) { return c.DeleteSecret(ctx, uri, "s1") },
			response: `{"id":"https://h/vaults/kv1/secrets/s1/0123","recoveryId":"https://h/vaults/kv1/deletedsecrets/s1",
				"deletedDate":1767326645,"scheduledPurgeDate":1767326645,"attributes":{"enabled":true}}`,
			method: "DELETE", wantPath: "/vaults/kv1/secrets/s1", wantQuery: "api-version=7.6",
			check: func(t *testing.T, got any) {
				d := got.(*DeletedSecretBundle)
				if d.RecoveryID != "https://h/vaults/kv1/deletedsecrets/s1" || d.DeletedDate == nil || *d.DeletedDate != 1767326645 || d.ID == "" {
					t.Errorf("deleted bundle %+v", d)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAPI(t)
			scopes := f.scopedTokens()
			secretFake(f, func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, tt.response) })
			got, err := tt.call(f.client(nil), f.srv.URL+"/vaults/kv1/")
			if err != nil {
				t.Fatal(err)
			}
			reqs := f.recorded()
			if len(reqs) != 1 {
				t.Fatalf("%d requests: %+v", len(reqs), reqs)
			}
			r := reqs[0]
			if r.Method != tt.method || r.RawPath != tt.wantPath || r.Query != tt.wantQuery || r.Auth != "Bearer tok-vault-1" {
				t.Errorf("request %s %s?%s (%s), want %s %s?%s with the vault token", r.Method, r.RawPath, r.Query, r.Auth, tt.method, tt.wantPath, tt.wantQuery)
			}
			assertJSONEqual(t, r.Body, tt.wantBody)
			if s := scopes(); !reflect.DeepEqual(s, []string{VaultScope}) {
				t.Errorf("token scopes %v, want [%s]", s, VaultScope)
			}
			if tt.check != nil {
				tt.check(t, got)
			}
		})
	}
}

func TestSecretCallsStayOnTheServer(t *testing.T) {
	t.Parallel()
	elsewhere := newFakeAPI(t)
	f := newFakeAPI(t)
	f.scopedTokens()
	secretFake(f, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path != "/vaults/kv1/secrets":
			writeJSON(w, 200, map[string]any{"value": "v", "id": "https://public/vaults/kv1/secrets/s/1"})
		case r.URL.Query().Get("$skiptoken") == "":
			// The public URL the server names differs from the one the
			// client uses: the next page is fetched from the client's.
			writeJSON(w, 200, map[string]any{"value": []any{map[string]any{"id": "https://public/vaults/kv1/secrets/a"}},
				"nextLink": elsewhere.srv.URL + "/vaults/kv1/secrets?api-version=7.6&$skiptoken=2"})
		default:
			writeJSON(w, 200, map[string]any{"value": []any{map[string]any{"id": "https://public/vaults/kv1/secrets/b"}}, "nextLink": nil})
		}
	})
	c := f.client(nil)
	items, err := c.ListSecrets(context.Background(), elsewhere.srv.URL+"/vaults/kv1/")
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[1].ID != "https://public/vaults/kv1/secrets/b" {
		t.Errorf("items %+v", items)
	}
	reqs := f.recorded()
	if len(reqs) != 2 || reqs[0].Path != "/vaults/kv1/secrets" || reqs[0].Query != "api-version=7.6" || reqs[1].Query != "api-version=7.6&$skiptoken=2" {
		t.Errorf("requests %+v", reqs)
	}
	if n := len(elsewhere.recorded()); n != 0 {
		t.Errorf("the host the vault URI and nextLink named got %d requests (and a token)", n)
	}

	for _, uri := range []string{"http://" + strings.TrimPrefix(f.srv.URL, "https://") + "/vaults/kv1/", "https://h/vaults/kv1/?x=1", "vaults/kv1/", "https://u:p@h/vaults/kv1/"} {
		if _, err := c.GetSecret(context.Background(), uri, "s", ""); err == nil || !strings.Contains(err.Error(), "is not an https URL") {
			t.Errorf("vault URI %q: error %v", uri, err)
		}
	}
	if _, err := c.GetSecret(context.Background(), f.srv.URL+"/vaults/kv1", "s", ""); err != nil {
		t.Errorf("a vault URI without a trailing slash: %v", err)
	}
	if last := f.recorded(); last[len(last)-1].Path != "/vaults/kv1/secrets/s" {
		t.Errorf("a vault URI without a trailing slash gave %s", last[len(last)-1].Path)
	}
}

func TestVaultTokenIsCachedApartFromTheManagementToken(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	scopes := f.scopedTokens()
	secretFake(f, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, map[string]any{"value": "v", "id": "i"})
	})
	f.mux.HandleFunc("GET /subscriptions/{sub}", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, map[string]any{"subscriptionId": testSub})
	})
	c := f.client(nil)
	ctx := context.Background()
	for range 2 {
		if _, err := c.GetSecret(ctx, f.srv.URL+"/vaults/kv1/", "s", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := c.GetSubscription(ctx, testSub); err != nil {
			t.Fatal(err)
		}
	}
	if s := scopes(); !reflect.DeepEqual(s, []string{VaultScope, f.srv.URL + "/.default"}) {
		t.Errorf("token scopes %v, want one vault and one management token", s)
	}
	for _, r := range f.recorded() {
		if want := map[bool]string{true: "Bearer tok-vault-1", false: "Bearer tok-mgmt-2"}[strings.HasPrefix(r.Path, "/vaults/")]; r.Auth != want {
			t.Errorf("%s sent %q, want %q", r.Path, r.Auth, want)
		}
	}
}

func TestVaultChallenge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		challenge  string // WWW-Authenticate of the 401
		accept     string // the token kind the vault takes
		wantScopes []string
		wantErr    string
	}{
		{name: "a challenge for another resource is answered with a token for it",
			challenge: `Bearer authorization="https://h/tenant-1", resource="https://vault.example"`, accept: "other",
			wantScopes: []string{VaultScope, "https://vault.example/.default"}},
		{name: "a challenge with a scope",
			challenge: `Bearer authorization="https://h/tenant-1", scope="https://vault.example/.default"`, accept: "other",
			wantScopes: []string{VaultScope, "https://vault.example/.default"}},
		{name: "a challenge for the resource already used is not a loop",
			challenge: `Bearer authorization="https://h/tenant-1", resource="https://vault.azure.net"`, accept: "none",
			wantScopes: []string{VaultScope}, wantErr: "(Unauthorized) AKV10000"},
		{name: "a challenge for a plain http resource is ignored",
			challenge: `Bearer resource="http://vault.example"`, accept: "other",
			wantScopes: []string{VaultScope}, wantErr: "(Unauthorized) AKV10000"},
		{name: "a second challenge after the retry is an error",
			challenge: `Bearer resource="https://vault.example"`, accept: "none",
			wantScopes: []string{VaultScope, "https://vault.example/.default"}, wantErr: "(Unauthorized) AKV10000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAPI(t)
			scopes := f.scopedTokens()
			f.mux.HandleFunc("/vaults/", func(w http.ResponseWriter, r *http.Request) {
				if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer tok-"+tt.accept+"-") {
					w.Header().Set("WWW-Authenticate", tt.challenge)
					writeJSON(w, 401, map[string]any{"error": map[string]any{"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer or PoP token."}})
					return
				}
				writeJSON(w, 200, map[string]any{"value": "v", "id": "i"})
			})
			b, err := f.client(nil).GetSecret(context.Background(), f.srv.URL+"/vaults/kv1/", "s", "")
			if tt.wantErr != "" {
				var ve *VaultError
				if !errors.As(err, &ve) || ve.StatusCode != 401 || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want a 401 *VaultError %q", err, tt.wantErr)
				}
			} else if err != nil || b.Value != "v" {
				t.Fatalf("GetSecret = %v, %v", b, err)
			}
			if s := scopes(); !reflect.DeepEqual(s, tt.wantScopes) {
				t.Errorf("token scopes %v, want %v", s, tt.wantScopes)
			}
		})
	}
}

func TestParseChallenge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		header     string
		wantScheme string
		want       map[string]string
	}{
		{name: "Key Vault's challenge", header: `Bearer authorization="https://h/t", resource="https://vault.azure.net"`,
			wantScheme: "Bearer", want: map[string]string{"authorization": "https://h/t", "resource": "https://vault.azure.net"}},
		{name: "unquoted values and no commas", header: `Bearer authorization=https://h/t resource=https://v`,
			wantScheme: "Bearer", want: map[string]string{"authorization": "https://h/t", "resource": "https://v"}},
		{name: "escaped quote and upper-case names", header: `Bearer Realm="a\"b", Scope="s/.default"`,
			wantScheme: "Bearer", want: map[string]string{"realm": `a"b`, "scope": "s/.default"}},
		{name: "an unterminated quote ends the value", header: `Bearer resource="https://v`,
			wantScheme: "Bearer", want: map[string]string{"resource": "https://v"}},
		{name: "a bare word ends the parameters", header: `Basic realm="x", garbage`,
			wantScheme: "Basic", want: map[string]string{"realm": "x"}},
		{name: "empty", header: "", wantScheme: "", want: map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			scheme, params := parseChallenge(tt.header)
			if scheme != tt.wantScheme || !reflect.DeepEqual(params, tt.want) {
				t.Errorf("parseChallenge(%q) = %q, %v; want %q, %v", tt.header, scheme, params, tt.wantScheme, tt.want)
			}
		})
	}
}

func TestVaultErrorDecoding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		status   int
		body     string
		want     VaultError
		wantText string
	}{
		{
			name:   "forbidden with several lines and an inner error",
			status: 403,
			body: `{"error":{"code":"Forbidden","message":"Caller is not authorized to perform action on resource.\r\nIf role assignments ` +
				`were changed recently, please observe propagation time.\r\nCaller: appid=x;oid=y\r\n","innererror":{"code":"ForbiddenByRbac"}}}`,
			want: VaultError{StatusCode: 403, Code: "Forbidden", InnerCode: "ForbiddenByRbac",
				Message: "Caller is not authorized to perform action on resource.\r\nIf role assignments were changed recently, please observe propagation time.\r\nCaller: appid=x;oid=y\r\n"},
			wantText: "(Forbidden) Caller is not authorized to perform action on resource. Inner error: ForbiddenByRbac",
		},
		{
			name:     "not found",
			status:   404,
			body:     `{"error":{"code":"SecretNotFound","message":"A secret with (name/id) s was not found in this key vault."}}`,
			want:     VaultError{StatusCode: 404, Code: "SecretNotFound", Message: "A secret with (name/id) s was not found in this key vault."},
			wantText: "(SecretNotFound) A secret with (name/id) s was not found in this key vault.",
		},
		{
			name:     "not JSON",
			status:   502,
			body:     `<html>bad gateway</html>`,
			want:     VaultError{StatusCode: 502, Code: "HTTP502", Message: "The vault answered 502 Bad Gateway."},
			wantText: "(HTTP502) The vault answered 502 Bad Gateway.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAPI(t)
			f.scopedTokens()
			secretFake(f, func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			})
			_, err := f.client(nil).GetSecret(context.Background(), f.srv.URL+"/vaults/kv1/", "s", "")
			var ve *VaultError
			if !errors.As(err, &ve) {
				t.Fatalf("error = %v, want *VaultError", err)
			}
			if *ve != tt.want {
				t.Errorf("VaultError = %+v, want %+v", *ve, tt.want)
			}
			if err.Error() != tt.wantText {
				t.Errorf("Error() = %q, want %q", err.Error(), tt.wantText)
			}
			if ve.IsNotFound() != (tt.status == 404) {
				t.Errorf("IsNotFound() = %v", ve.IsNotFound())
			}
		})
	}
}

func TestSecretValuesDoNotPrint(t *testing.T) {
	t.Parallel()
	const value = "hunter2-secret"
	b := SecretBundle{Value: value, ID: "https://h/vaults/kv1/secrets/s/1"}
	d := DeletedSecretBundle{SecretBundle: b}
	p := SecretSetParameters{Value: value}
	for _, s := range []string{fmt.Sprint(b), fmt.Sprintf("%v %+v %#v", b, &b, b), fmt.Sprintf("%v %+v %#v", d, &d, d), fmt.Sprintf("%v %+v %#v", p, &p, p)} {
		if strings.Contains(s, value) {
			t.Errorf("formatted %q shows the value", s)
		}
	}
}

func TestSecretCallsNeedNames(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	c := f.client(nil)
	ctx := context.Background()
	uri := f.srv.URL + "/vaults/kv1/"
	for name, call := range map[string]func() error{
		"set":         func() error { _, err := c.SetSecret(ctx, uri, " ", SecretSetParameters{}); return err },
		"get":         func() error { _, err := c.GetSecret(ctx, uri, "", ""); return err },
		"delete":      func() error { _, err := c.DeleteSecret(ctx, uri, ""); return err },
		"find vault":  func() error { _, err := c.FindVault(ctx, testSub, ""); return err },
		"get vault":   func() error { _, err := c.GetVault(ctx, testSub, "rg", ""); return err },
		"list vaults": func() error { _, err := c.ListVaults(ctx, "", ""); return err },
	} {
		if err := call(); err == nil || !strings.Contains(err.Error(), "is required") {
			t.Errorf("%s: error %v, want a required name", name, err)
		}
	}
	if n := len(f.recorded()); n != 0 {
		t.Errorf("refused calls sent %d requests", n)
	}
}
